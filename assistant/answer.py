"""The default, extractive answerer: faithful by construction.

It picks the sentences of the retrieved passages that best answer the question, quotes them
verbatim with ``[n]`` markers, and refuses when the best evidence is too weak, or when the
learned reader (assistant.reader) finds that no retrieved sentence answers the question.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.keyword import KeywordIndex
from assistant.question import answer_type_ok, counted, focus_terms
from assistant.reader import (
    Candidate,
    Reader,
    candidates,
    is_fragment,
    sentence_vectors,
)
from assistant.retrieval import Hit, Retriever, Scope
from assistant.text import QUESTION_WORDS, tokens
from ingest.document import overlaps
from ingest.embedding import Embedder
from ingest.store import StoredChunk

REFUSAL_TEXT = "The sources don't answer this question."
_SHORTLIST = 16
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
            self._score(question, context, cands)
        return hits, sorted(cands, key=lambda c: -c.support)

    def _score(self, question: str, context: str, cands: list[Candidate]) -> None:
        """Support of each candidate: similarity, plus coverage of the question's terms
        weighted by how well each term tells the candidates apart, plus retrieval rank."""
        q_terms = [t for t in dict.fromkeys(tokens(question)) if t not in QUESTION_WORDS]
        focus, focus_required = focus_terms(question)
        expand = acronyms(list({c.hit.chunk.text for c in cands}))
        cand_terms = [_terms_with_expansions(c.text, expand) for c in cands]
        q_terms = [
            t
            for t in dict.fromkeys([*q_terms, *_terms_with_expansions(question, expand)])
            if t not in QUESTION_WORDS
        ]
        n = len(cands)
        weight = {}
        for t in q_terms:
            df = sum(1 for terms in cand_terms if t in terms)
            weight[t] = math.log(1 + (n - df + 0.5) / (df + 0.5)) * min(self.keyword.idf(t), 6.0)
        mass = sum(weight.values()) or 1.0
        asked = set(q_terms) | set(tokens(context))
        q_vec = self.embedder.embed_query(f"{context} {question}".strip())
        for cand, terms in zip(cands, cand_terms, strict=True):
            # words of the document title say which document, not which sentence answers
            title = _title_terms(cand)
            lexical = (
                sum(w * (0.3 if t in title else 1.0) for t, w in weight.items() if t in terms)
                / mass
            )
            evidence = terms | _chunk_terms(cand)
            if focus_required:
                missing = [t for t in focus if t not in terms]
                if focus and not missing and not counted(question, cand.text, focus[-1]):
                    missing = focus
            else:
                missing = [t for t in focus if t not in evidence]
            novelty = len(terms - asked) / len(terms) if terms else 0.0
            typed = answer_type_ok(question, cand.text)
            penalty = 0.0
            if missing:
                penalty += 0.5 if focus_required else 0.2 * len(missing) / len(focus)
            if not typed:
                penalty += 0.3
            cand.features = {
                "dense": 0.0,
                "lexical": lexical,
                "hit": cand.hit.score,
                "novelty": novelty,
                "focus_missing": float(len(missing)),
                "type_ok": float(typed),
            }
            cand.support = float(
                0.3 * lexical + 0.1 * cand.hit.score + 0.1 * min(novelty * 2, 1.0) - penalty
            )
        # the most promising candidates, judged with the passage's own similarity standing in
        # for the sentence's, get a sentence vector
        shortlist = sorted(cands, key=lambda c: -(c.support + 0.5 * c.hit.dense))[:_SHORTLIST]
        vectors = sentence_vectors(self.keyword.store, self.embedder, shortlist)
        for cand, sim in zip(shortlist, vectors @ q_vec, strict=True):
            cand.features["dense"] = float(sim)
            cand.support += 0.5 * float(sim)
        embedded = {id(c) for c in shortlist}
        for cand in cands:
            if id(cand) not in embedded:
                cand.support -= 1.0  # never chosen over an embedded, scored sentence


_ACRONYM_DEF = re.compile(r"\(([A-Z][A-Za-z]{1,7})\)")


def acronyms(texts: list[str]) -> dict[str, str]:
    """Acronyms the texts define, as in "conflict-related sexual violence (CRSV)"."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _ACRONYM_DEF.finditer(text):
            acronym = match.group(1)
            letters = [ch.lower() for ch in acronym if ch.isupper()]
            if len(letters) < 2:
                continue
            words = re.findall(
                r"[\w’']+(?:-[\w’']+)*", text[max(0, match.start() - 200) : match.start()]
            )
            parts: list[str] = []
            for word in reversed(words):
                parts.insert(0, word)
                initials = [p[0].lower() for w in parts for p in w.split("-") if p]
                significant = [
                    i
                    for i, w in zip(
                        initials, [p for w in parts for p in w.split("-") if p], strict=True
                    )
                    if w.lower() not in _MINOR
                ]
                if significant == letters or initials == letters:
                    found[acronym.lower()] = " ".join(parts)
                    break
                if len(parts) > len(letters) + 3:
                    break
    return found


_MINOR = frozenset(["of", "and", "the", "for", "on", "in", "to", "a", "an"])


def _terms_with_expansions(text: str, expand: dict[str, str]) -> set[str]:
    terms = set(tokens(text))
    for word in re.findall(r"\b[A-Z][A-Za-z]{1,7}\b", text):
        phrase = expand.get(word.lower())
        if phrase:
            terms.update(tokens(phrase))
    return terms


def _title_terms(cand: Candidate) -> set[str]:
    cached = getattr(cand.hit, "_title_terms", None)
    if cached is None:
        cached = set(tokens(cand.hit.chunk.title))
        cand.hit._title_terms = cached  # type: ignore[attr-defined]
    return cached


def _chunk_terms(cand: Candidate) -> set[str]:
    cached = getattr(cand.hit, "_terms", None)
    if cached is None:
        chunk = cand.hit.chunk
        cached = set(tokens(f"{chunk.title} {chunk.location} {chunk.text}"))
        cand.hit._terms = cached  # type: ignore[attr-defined]
    return cached


def _passages(hits: list[Hit], limit: int = 3) -> list[Citation]:
    return [
        Citation.of(n, h.chunk, h.chunk.text, h.chunk.start, h.chunk.end, h.score)
        for n, h in enumerate(hits[:limit], start=1)
    ]
