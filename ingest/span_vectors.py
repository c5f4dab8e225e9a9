"""Sentence vectors that come free with a chunk's own encoding.

When a chunk is encoded, the model computes one vector per token before averaging them into the
chunk vector. Averaging instead the tokens of one sentence gives that sentence a vector in the
same space, read in the context of its chunk, at no extra model cost. The answerer compares these
with the question to pick the sentence that answers; encoding each candidate sentence on its own
at question time cost ten times the whole retrieval (on the sample corpus the pooled vectors pick
the same cited sentences and refuse slightly better).

Stored with the chunk (Chroma metadata, so every process sharing a store sees them): the
sentence spans in the chunk text, their token counts and their mean token vectors as float16.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "sv1"  # part of the ingest's chunking key: a store without these is re-embedded
_SPANS, _TOKENS, _VECTORS = "sent_spans", "sent_tokens", "sent_vectors"


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
    return {
        _SPANS: ",".join(f"{s}:{e}" for s, e in item.spans),
        _TOKENS: ",".join(str(int(n)) for n in item.tokens),
        _VECTORS: base64.b64encode(item.means.astype(np.float16).tobytes()).decode("ascii"),
    }


def unpack(meta: dict[str, Any]) -> SpanVectors | None:
    """The span vectors in a chunk's metadata; None for chunks stored without them."""
    try:
        spans_text, tokens_text, blob = meta[_SPANS], meta[_TOKENS], meta[_VECTORS]
        spans = [
            (int(s), int(e)) for s, e in (p.split(":") for p in str(spans_text).split(",") if p)
        ]
        tokens = np.array([int(n) for n in str(tokens_text).split(",") if n], dtype=np.int32)
        raw = np.frombuffer(base64.b64decode(blob), dtype=np.float16)
        if not spans or len(tokens) != len(spans) or raw.size % len(spans):
            return None
        return SpanVectors(spans, tokens, raw.reshape(len(spans), -1))
    except (KeyError, ValueError, TypeError):
        return None
