"""BM25 keyword index over the chunk texts in Chroma, cached on disk per store generation.

Local Chroma has no sparse index, so this is built here; it is rebuilt when the store's
generation token changes (any ingest or removal), and reloaded from disk by other processes.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.text import tokens
from ingest.store import ChromaStore
from ingest.sync import embed_text

BM25_K1 = 1.2
BM25_B = 0.75


@dataclass
class _Index:
    generation: str
    ids: list[str]
    bm25: object  # bm25s.BM25
    vocab: set[str]
    doc_freq: dict[str, int]


class KeywordIndex:
    def __init__(
        self, store: ChromaStore, cache_dir: Path | None, k1: float = BM25_K1, b: float = BM25_B
    ):
        self.store = store
        self.cache_dir = cache_dir
        self.k1 = k1
        self.b = b
        self._index: _Index | None = None
        self._lock = threading.Lock()

    def _current(self) -> _Index | None:
        generation = self.store.generation()
        index = self._index
        if index is not None and index.generation == generation:
            return index
        with self._lock:
            if self._index is not None and self._index.generation == generation:
                return self._index
            self._index = self._load(generation) or self._build(generation)
            return self._index

    def _dir(self, generation: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{self.store.name}-{generation}-k{self.k1}-b{self.b}"

    def _load(self, generation: str) -> _Index | None:
        import bm25s

        folder = self._dir(generation)
        if folder is None or not (folder / "ids.json").exists():
            return None
        try:
            ids = json.loads((folder / "ids.json").read_text())
            doc_freq = json.loads((folder / "df.json").read_text())
            if not ids:
                return _Index(generation, [], None, set(), {})
            model = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        except (OSError, ValueError):
            return None
        return _Index(generation, ids, model, set(model.vocab_dict), doc_freq)

    def _build(self, generation: str) -> _Index:
        import bm25s

        ids: list[str] = []
        corpus: list[list[str]] = []
        for chunk in self.store.iter_chunks():
            ids.append(chunk.chunk_id)
            corpus.append(tokens(embed_text(chunk.title, chunk.location, chunk.text)))
        model = None
        vocab: set[str] = set()
        doc_freq: dict[str, int] = {}
        for terms in corpus:
            for term in set(terms):
                doc_freq[term] = doc_freq.get(term, 0) + 1
        if ids:
            model = bm25s.BM25(k1=self.k1, b=self.b)
            model.index(corpus, show_progress=False)
            vocab = set(model.vocab_dict)
        folder = self._dir(generation)
        if folder is not None:
            self._save(folder, ids, model, doc_freq)
        return _Index(generation, ids, model, vocab, doc_freq)

    def _save(self, folder: Path, ids: list[str], model: object, doc_freq: dict[str, int]) -> None:
        assert self.cache_dir is not None
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, exist_ok=True)
        if model is not None:
            model.save(str(tmp), show_progress=False)  # type: ignore[attr-defined]
        (tmp / "df.json").write_text(json.dumps(doc_freq))
        (tmp / "ids.json").write_text(json.dumps(ids))
        # drop older generations of this collection, then publish atomically
        for old in self.cache_dir.glob(f"{self.store.name}-*"):
            if old != tmp:
                shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

    def scores(self, query: str) -> tuple[list[str], np.ndarray]:
        """BM25 score of every chunk for the query (ids aligned with scores)."""
        index = self._current()
        if index is None or index.bm25 is None:
            return [], np.zeros(0, dtype=np.float32)
        terms = [t for t in tokens(query) if t in index.vocab]
        if not terms:
            return index.ids, np.zeros(len(index.ids), dtype=np.float32)
        scores = index.bm25.get_scores(terms)  # type: ignore[attr-defined]
        return index.ids, np.asarray(scores, dtype=np.float32)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (stemmed) term over chunks; unseen terms get the max."""
        index = self._current()
        n = len(index.ids) if index else 0
        df = index.doc_freq.get(term, 0) if index else 0
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def document_frequency(self, term: str) -> int:
        index = self._current()
        return index.doc_freq.get(term, 0) if index else 0

    def size(self) -> int:
        index = self._current()
        return len(index.ids) if index else 0
