"""The default, extractive answerer: faithful by construction.

It picks the sentences of the retrieved passages that best answer the question, quotes them
verbatim with ``[n]`` markers, and refuses when the best evidence is too weak, or when the
learned reader (assistant.reader) finds that no retrieved sentence answers the question.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.keyword import KeywordIndex
from assistant.reader import Candidate, Reader, candidates, is_fragment, score_support
from assistant.retrieval import Hit, Retriever, Scope
from ingest.document import overlaps
from ingest.embedding import Embedder
from ingest.store import StoredChunk

REFUSAL_TEXT = "The sources don't answer this question."
_MIN_EXTRA_LEXICAL = 0.08


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    location: str
    quote: str
    start: int
    end: int
    score: float

    @classmethod
    def of(
        cls, n: int, chunk: StoredChunk, quote: str, start: int, end: int, score: float
    ) -> Citation:
        """Citation ``n``: ``quote`` (document offsets ``start``..``end``) from ``chunk``."""
        return cls(
            n, chunk.doc_id, chunk.title, chunk.source, chunk.location, quote, start, end, score
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        return data


@dataclass
class Answer:
    answer: str
    refused: bool
    citations: list[Citation]
    question: str = ""
    passages: list[Citation] = field(default_factory=list)  # closest passages on refusal
    scope: Scope | None = None  # the documents it was limited to, when it was

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.as_dict() for c in self.citations],
            "passages": [c.as_dict() for c in self.passages],
            "question": self.question,
            "scope": None if self.scope is None else self.scope.as_dict(),
        }


class ExtractiveAnswerer:
    def __init__(
        self,
        retriever: Retriever,
        embedder: Embedder,
        keyword: KeywordIndex,
        *,
        k: int,
        reader: Reader | None,
        threshold: float,
        max_sentences: int,
    ):
        self.retriever = retriever
        self.embedder = embedder
        self.keyword = keyword
        self.reader = reader
        self.k = k
        self.threshold = threshold
        self.max_sentences = max_sentences

    def answer(
        self,
        question: str,
        *,
        context: str = "",
        k: int | None = None,
        scope: Scope | None = None,
    ) -> Answer:
        """Answer ``question``; ``context`` is earlier conversation used for follow-ups;
        ``scope`` limits the documents it may be answered from."""
        answer = self._answer(question, context, k, scope)
        answer.scope = scope
        return answer

    def _answer(self, question: str, context: str, k: int | None, scope: Scope | None) -> Answer:
        query = f"{context} {question}".strip() if context else question
        hits, ranked = self.rank(question, context=context, k=k, scope=scope)
        if self.reader is not None:
            reading = self.reader.read(
                question, hits, context=context, cands=ranked, scoped=scope is not None
            )
            if not reading.answered:
                return Answer(REFUSAL_TEXT, True, [], question=query, passages=_passages(hits))
            chosen = reading.cited[: self.max_sentences]
        else:
            chosen = self._by_support([c for c in ranked if not is_fragment(c.text)])
            if not chosen:
                return Answer(REFUSAL_TEXT, True, [], question=query, passages=_passages(hits))
        citations = []
        parts = []
        for n, cand in enumerate(chosen, start=1):
            citations.append(
                Citation.of(n, cand.hit.chunk, cand.text, cand.start, cand.end, cand.support)
            )
            parts.append(f"{cand.text} [{n}]")
        return Answer(" ".join(parts), False, citations, question=query)

    def _by_support(self, ranked: list[Candidate]) -> list[Candidate]:
        """Without the reader: the best-supported sentence when it clears the threshold, and
        further ones close behind it that share a distinctive word of the question."""
        if not ranked or ranked[0].support < self.threshold:
            return []
        best = ranked[0]
        chosen = [best]
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if cand.support < max(self.threshold - 0.1, best.support - 0.25):
                break
            if any(overlaps(cand, c) for c in chosen):
                continue
            if cand.features.get("lexical", 0.0) < _MIN_EXTRA_LEXICAL:
                continue
            chosen.append(cand)
        return chosen

    def rank(
        self,
        question: str,
        *,
        context: str = "",
        k: int | None = None,
        scope: Scope | None = None,
    ) -> tuple[list[Hit], list[Candidate]]:
        """Retrieved passages and their candidate sentences, best supported first."""
        query = f"{context} {question}".strip() if context else question
        hits = self.retriever.search(query, k or self.k, scope=scope)
        cands = candidates(hits)
        if cands:
            score_support(question, context, cands, embedder=self.embedder, keyword=self.keyword)
        return hits, sorted(cands, key=lambda c: -c.support)


def _passages(hits: list[Hit], limit: int = 3) -> list[Citation]:
    return [
        Citation.of(n, h.chunk, h.chunk.text, h.chunk.start, h.chunk.end, h.score)
        for n, h in enumerate(hits[:limit], start=1)
    ]
