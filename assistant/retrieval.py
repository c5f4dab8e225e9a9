"""Hybrid retrieval: dense (Chroma) and BM25 scores, normalised and mixed, overlaps removed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.keyword import KeywordIndex
from ingest.embedding import Embedder
from ingest.store import ChromaStore, StoredChunk


@dataclass
class Hit:
    chunk: StoredChunk
    score: float  # fused, 0..1
    dense: float  # cosine similarity
    keyword: float  # raw BM25


class Retriever:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        keyword: KeywordIndex,
        dense_weight: float = 0.5,
        pool: int = 50,
    ):
        self.store = store
        self.embedder = embedder
        self.keyword = keyword
        self.dense_weight = dense_weight
        self.pool = pool

    def search(self, query: str, k: int = 6, mode: str = "hybrid") -> list[Hit]:
        """Top ``k`` chunks for the query; ``mode`` is hybrid, dense or bm25."""
        pool = max(self.pool, 4 * k)
        vector = self.embedder.embed_query(query)
        dense_hits = self.store.query(vector, pool) if mode != "bm25" else []
        by_id: dict[str, StoredChunk] = {c.chunk_id: c for c, _ in dense_hits}
        dense = {c.chunk_id: s for c, s in dense_hits}
        keyword: dict[str, float] = {}
        if mode != "dense":
            ids, scores = self.keyword.scores(query)
            if len(ids):
                top = np.argsort(-scores)[:pool]
                keyword = {ids[i]: float(scores[i]) for i in top if scores[i] > 0}
                if mode == "hybrid":
                    all_scores = dict(zip(ids, scores.tolist(), strict=True))
                    keyword.update({cid: all_scores.get(cid, 0.0) for cid in dense})
        missing = [cid for cid in keyword if cid not in by_id]
        if missing:
            for chunk, vec in self._with_vectors(missing):
                by_id[chunk.chunk_id] = chunk
                if mode != "bm25":
                    dense[chunk.chunk_id] = float(np.dot(vec, vector))
        fused = self._fuse(list(by_id), dense, keyword, mode)
        ranked = sorted(by_id, key=lambda cid: -fused[cid])
        hits: list[Hit] = []
        for cid in ranked:
            chunk = by_id[cid]
            if any(_overlaps(chunk, h.chunk) for h in hits):
                continue
            hits.append(Hit(chunk, fused[cid], dense.get(cid, 0.0), keyword.get(cid, 0.0)))
            if len(hits) >= k:
                break
        return hits

    def _with_vectors(self, ids: list[str]) -> list[tuple[StoredChunk, np.ndarray]]:
        chunks = self.store.get_chunks(ids)
        vectors = self.store.get_embeddings([c.chunk_id for c in chunks])
        return list(zip(chunks, vectors, strict=True))

    def _fuse(
        self, ids: list[str], dense: dict[str, float], keyword: dict[str, float], mode: str
    ) -> dict[str, float]:
        if mode == "dense":
            return {cid: dense.get(cid, 0.0) for cid in ids}
        top_kw = max(keyword.values(), default=0.0)
        kw_norm = {cid: (keyword.get(cid, 0.0) / top_kw if top_kw > 0 else 0.0) for cid in ids}
        if mode == "bm25":
            return {cid: keyword.get(cid, 0.0) for cid in ids}
        values = [dense.get(cid, 0.0) for cid in ids]
        lo, hi = min(values, default=0.0), max(values, default=0.0)
        span = hi - lo if hi > lo else 1.0
        w = self.dense_weight
        return {cid: w * (dense.get(cid, lo) - lo) / span + (1 - w) * kw_norm[cid] for cid in ids}


def _overlaps(a: StoredChunk, b: StoredChunk) -> bool:
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end
