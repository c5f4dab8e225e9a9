"""Sentence vectors that come free with a chunk's own encoding.

When a chunk is encoded, the model computes one vector per token before averaging them into the
chunk vector. Averaging instead the tokens of one sentence gives that sentence a vector in the
same space, read in the context of its chunk, at no extra model cost. The answerer compares these
with the question to pick the sentence that answers; encoding each candidate sentence on its own
at question time cost ten times the whole retrieval (on the sample corpus the pooled vectors pick
the same cited sentences and refuse slightly better).

Stored with the chunk (Chroma metadata, so every process sharing a store sees them): the
sentence spans in the chunk text, their token counts and their mean token vectors, each row as
int8 with its own float16 scale (max |value| / 127). That is a quarter of float32 and half of
the float16 stored before, which matters: Chroma keeps every metadata string twice (the row and
an index over it), and these vectors were most of a chunk's bytes on disk. The rounding moves a
sentence's cosine with a question by well under 0.01; float16 metadata written before
(``sent_vectors``) is still read.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "sv1"  # part of the ingest's chunking key: a store without these is re-embedded
_SPANS, _TOKENS, _VECTORS, _INT8 = "sent_spans", "sent_tokens", "sent_vectors", "sent_q8"


@dataclass
class SpanVectors:
    spans: list[tuple[int, int]]  # character spans in the chunk text
    tokens: np.ndarray  # (n,) tokens per span; 0 when the span fell beyond the model's limit
    means: np.ndarray  # (n, dim) mean token vector per span (zero rows where tokens == 0)

    def vector(self, start: int, end: int) -> np.ndarray | None:
        """Unit vector of the text ``[start, end)`` of the chunk: the token-weighted mean of the
        spans it overlaps; None when none of them has tokens."""
        picked = [
            i for i, (s, e) in enumerate(self.spans) if s < end and start < e and self.tokens[i]
        ]
        if not picked:
            return None
        weights = self.tokens[picked].astype(np.float32)
        vector = weights @ self.means[picked].astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else None


def pack(item: SpanVectors) -> dict[str, Any]:
    """Metadata fields for a chunk (strings: every Chroma version stores them)."""
    means = item.means.astype(np.float32)
    scale = np.abs(means).max(axis=1) / 127 if means.size else np.zeros(len(item.spans))
    scale = scale.astype(np.float16)
    safe = np.where(scale > 0, scale.astype(np.float32), 1.0)[:, None]
    rows = np.clip(np.rint(means / safe), -127, 127).astype(np.int8)
    return {
        _SPANS: ",".join(f"{s}:{e}" for s, e in item.spans),
        _TOKENS: ",".join(str(int(n)) for n in item.tokens),
        _INT8: base64.b64encode(scale.tobytes() + rows.tobytes()).decode("ascii"),
    }


def unpack(meta: dict[str, Any]) -> SpanVectors | None:
    """The span vectors in a chunk's metadata; None for chunks stored without them."""
    try:
        spans_text, tokens_text = meta[_SPANS], meta[_TOKENS]
        spans = [
            (int(s), int(e)) for s, e in (p.split(":") for p in str(spans_text).split(",") if p)
        ]
        tokens = np.array([int(n) for n in str(tokens_text).split(",") if n], dtype=np.int32)
        if not spans or len(tokens) != len(spans):
            return None
        n = len(spans)
        if _INT8 in meta:
            raw = base64.b64decode(meta[_INT8], validate=True)
            if len(raw) <= 2 * n or (len(raw) - 2 * n) % n:
                return None
            scale = np.frombuffer(raw[: 2 * n], dtype=np.float16).astype(np.float32)
            rows = np.frombuffer(raw[2 * n :], dtype=np.int8).reshape(n, -1)
            means = (rows.astype(np.float32) * scale[:, None]).astype(np.float16)
            return SpanVectors(spans, tokens, means)
        old = np.frombuffer(base64.b64decode(meta[_VECTORS], validate=True), dtype=np.float16)
        if old.size % n:
            return None
        return SpanVectors(spans, tokens, old.reshape(n, -1))
    except (KeyError, ValueError, TypeError):
        return None
