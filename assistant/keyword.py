"""In-memory search index over the chunks in Chroma: BM25, chunk texts and their vectors,
cached on disk per store generation.

Local Chroma has no sparse index, so BM25 is built here; it is rebuilt when the store's
generation token changes (any ingest or removal), and reloaded from disk by other processes.
The same snapshot holds every chunk and its stored vector, so a query costs one Chroma call
(the nearest ids) and no further reads: keyword-only candidates get their cosine similarity
from the vectors held here.

Each chunk is indexed together with its neighbouring chunks of the same document (``context``
on each side): a passage is found by words its neighbours use too, which small chunks alone
miss (on BEIR SciFact, +0.01 nDCG@10 for BM25 over 500-character chunks). Document frequencies
for ``idf`` stay per chunk, so the answerer's term weights do not depend on this.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.text import language_of, query_tokens, tokens
from ingest.span_vectors import SpanVectors, pack, unpack
from ingest.store import ChromaStore, StoredChunk
from ingest.sync import embed_text

_FORMAT = 4  # bump when the cached files change


@dataclass
class Snapshot:
    """The chunks of one store generation, with what searching them needs."""

    generation: str
    ids: list[str]
    chunks: list[StoredChunk]
    vectors: np.ndarray  # (len(ids), dim), normalised, row i belongs to ids[i]
    bm25: object  # bm25s.BM25, None when there are no chunks
    vocab: set[str]
    doc_freq: dict[str, int]
    sentences: list[SpanVectors | None]  # per chunk, the sentence vectors stored with it
    position: dict[str, int] = field(default_factory=dict)
    _doc_rows: dict[str, np.ndarray] | None = field(default=None, repr=False)
    languages: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        if not self.position:
            self.position = {cid: i for i, cid in enumerate(self.ids)}
        # the tokenisers a query is read with: one per language the chunks are in
        self.languages = frozenset(language_of(c.language) for c in self.chunks)

    def chunk(self, chunk_id: str) -> StoredChunk | None:
        i = self.position.get(chunk_id)
        return None if i is None else self.chunks[i]

    def span_vector(self, chunk_id: str, start: int, end: int) -> np.ndarray | None:
        """The pooled vector of ``[start, end)`` of the chunk's text, if it was stored."""
        i = self.position.get(chunk_id)
        spans = None if i is None else self.sentences[i]
        return None if spans is None else spans.vector(start, end)

    def in_docs(self, doc_ids: frozenset[str]) -> np.ndarray:
        """A mask over the chunks: True for those of the given documents."""
        if self._doc_rows is None:
            rows: dict[str, list[int]] = {}
            for i, chunk in enumerate(self.chunks):
                rows.setdefault(chunk.doc_id, []).append(i)
            self._doc_rows = {d: np.asarray(r, dtype=np.int64) for d, r in rows.items()}
        mask = np.zeros(len(self.ids), dtype=bool)
        for doc_id in doc_ids:
            found = self._doc_rows.get(doc_id)
            if found is not None:
                mask[found] = True
        return mask

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (stemmed) term over chunks; unseen terms get the max."""
        n = len(self.ids)
        df = self.doc_freq.get(term, 0)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


class KeywordIndex:
    def __init__(
        self,
        store: ChromaStore,
        cache_dir: Path | None,
        *,
        k1: float,
        b: float,
        context: int,
    ):
        self.store = store
        self.cache_dir = cache_dir
        self.k1 = k1
        self.b = b
        self.context = context
        self._index: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        """The index of the store as it is now (rebuilt or reloaded when it has changed)."""
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
        key = f"k{self.k1}-b{self.b}-c{self.context}-f{_FORMAT}"
        return self.cache_dir / f"{self.store.name}-{generation}-{key}"

    def _load(self, generation: str) -> Snapshot | None:
        import bm25s

        folder = self._dir(generation)
        if folder is None or not (folder / "chunks.json").exists():
            return None
        try:
            chunks = [StoredChunk(**c) for c in json.loads((folder / "chunks.json").read_text())]
            doc_freq = json.loads((folder / "df.json").read_text())
            vectors = np.load(folder / "vectors.npy")
            packed = json.loads((folder / "sentences.json").read_text())
            sentences = [unpack(m) if m else None for m in packed]
            model = None
            if chunks:
                model = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        except (OSError, ValueError, TypeError):
            return None
        vocab = set(model.vocab_dict) if model is not None else set()
        ids = [c.chunk_id for c in chunks]
        return Snapshot(generation, ids, chunks, vectors, model, vocab, doc_freq, sentences)

    def _build(self, generation: str) -> Snapshot:
        import bm25s

        chunks: list[StoredChunk] = []
        rows: list[np.ndarray] = []
        sentences: list[SpanVectors | None] = []
        for chunk, vector, spans in self.store.iter_chunks_with_vectors():
            chunks.append(chunk)
            rows.append(vector)
            sentences.append(spans)
        ids = [chunk.chunk_id for chunk in chunks]
        vectors = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
        doc_freq: dict[str, int] = {}
        for chunk in chunks:
            text = embed_text(chunk.title, chunk.location, chunk.text)
            for term in set(tokens(text, chunk.language)):
                doc_freq[term] = doc_freq.get(term, 0) + 1
        windows = _windows(chunks, self.context)
        corpus = [
            tokens(embed_text(chunk.title, chunk.location, windows[chunk.chunk_id]), chunk.language)
            for chunk in chunks
        ]
        model = None
        vocab: set[str] = set()
        if ids:
            model = bm25s.BM25(k1=self.k1, b=self.b)
            model.index(corpus, show_progress=False)
            vocab = set(model.vocab_dict)
        folder = self._dir(generation)
        if folder is not None:
            self._save(folder, chunks, vectors, sentences, model, doc_freq)
        return Snapshot(generation, ids, chunks, vectors, model, vocab, doc_freq, sentences)

    def _save(
        self,
        folder: Path,
        chunks: list[StoredChunk],
        vectors: np.ndarray,
        sentences: list[SpanVectors | None],
        model: object,
        doc_freq: dict[str, int],
    ) -> None:
        assert self.cache_dir is not None
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True, exist_ok=True)
        if model is not None:
            model.save(str(tmp), show_progress=False)  # type: ignore[attr-defined]
        (tmp / "df.json").write_text(json.dumps(doc_freq))
        np.save(tmp / "vectors.npy", vectors)
        packed = [None if item is None else pack(item) for item in sentences]
        (tmp / "sentences.json").write_text(json.dumps(packed))
        # written last: its presence marks a complete folder
        (tmp / "chunks.json").write_text(json.dumps([asdict(c) for c in chunks]))
        # drop older generations of this collection, then publish atomically
        for old in self.cache_dir.glob(f"{self.store.name}-*"):
            if old != tmp:
                shutil.rmtree(old, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

    def scores(self, query: str, index: Snapshot | None = None) -> tuple[list[str], np.ndarray]:
        """BM25 score of every chunk for the query (ids aligned with scores)."""
        index = index or self.snapshot()
        if index.bm25 is None:
            return [], np.zeros(0, dtype=np.float32)
        terms = [t for t in query_tokens(query, index.languages) if t in index.vocab]
        if not terms:
            return index.ids, np.zeros(len(index.ids), dtype=np.float32)
        scores = index.bm25.get_scores(terms)  # type: ignore[attr-defined]
        return index.ids, np.asarray(scores, dtype=np.float32)


def _windows(chunks: list[StoredChunk], context: int) -> dict[str, str]:
    """Each chunk's text widened by ``context`` neighbouring chunks of its document on each side,
    stitched by character offsets so overlapping text is not counted twice."""
    by_doc: dict[str, list[StoredChunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    windows: dict[str, str] = {}
    for doc_chunks in by_doc.values():
        doc_chunks.sort(key=lambda c: (c.start, c.ordinal))
        for i, chunk in enumerate(doc_chunks):
            parts: list[str] = []
            end = -1
            for near in doc_chunks[max(0, i - context) : i + context + 1]:
                if near.end <= end:
                    continue
                skip = max(0, end - near.start)
                parts.append(near.text[skip:])
                end = near.end
            windows[chunk.chunk_id] = " ".join(parts) if context else chunk.text
    return windows
