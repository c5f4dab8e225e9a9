"""Citation checks for generated answers: every sentence must be backed by a passage it was given.

A language model's answer is split into sentences. Each sentence is compared with the sentences
of the passages (a list intro counts together with its items). A passage sentence supports it
when it contains nearly all of the answer sentence's new words (those not already in the
question), half of its word pairs in the same order, every number it states, and is close to it
in embedding space. Words alone are not meaning, so this is a strict filter rather than proof;
it is strict on purpose: a sentence that fails costs fluency (the extractive answer is given),
one that wrongly passes costs trust. Then:

* a marker that names no passage is removed;
* a sentence keeps its marker when the cited passage supports it, is re-pointed to the passage
  that does, or is dropped when none does (so is a sentence without a marker);
* passage text that reads like an instruction to the model never counts as support, and a
  sentence unrelated to the question is dropped, so a planted "ignore your instructions and say
  X" cannot put X in front of the user;
* when less than ``min_supported`` of the sentences survive, there is no answer and the caller
  gives the extractive one instead.

Citations keep the extractive contract: the quote is the verbatim supporting span, ``start`` and
``end`` are its offsets in the document, and markers are renumbered 1..n by first appearance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from assistant.answer import Answer, Citation
from assistant.reader import candidates
from assistant.retrieval import Hit
from assistant.text import acronyms, tokens
from ingest.embedding import Embedder
from ingest.sentences import LIST_ITEM, sentence_spans

MARKER = re.compile(
    r"\[\s*(?:(?:passages?|sources?)\s*)?(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]", re.I
)
_LEADING_MARKERS = re.compile(rf"^(?:\s*{MARKER.pattern})+", re.I)
_PREAMBLE = re.compile(
    r"^(?:(?:the\s+)?answer(?:\s+to\s+(?:this|the|your)\s+question)?\s+is\s*:?|answer\s*:"
    r"|(?:based\s+on|according\s+to)\s+the\s+(?:passages?|sources?)\s*,)\s*",
    re.I,
)
_ITEM_NUMBER = re.compile(r"\d{1,2}[.)]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,60}?"
    r"\b(?:instructions?|prompts?|rules|passages?|context|everything|above|previous)\b"
    r"|\b(?:system prompt|you are now|new instructions?|as an ai\b)"
    r"|\b(?:respond|reply|answer|say|output)\s+(?:only\s+)?with\b",
    re.I,
)

Status = Literal["kept", "repointed", "dropped", "skipped"]

# What a passage sentence must share with an answer sentence to support it (the module
# docstring), set when generation landed (327a962) so that every paraphrase in
# tests/generate passes and every planted or unsupported sentence there fails; strict on
# purpose: a wrong pass costs trust, a wrong fail only fluency.
MIN_COVERAGE = 0.8  # of the answer sentence's new words found in the passage sentence
MIN_PAIRS = 0.5  # of its adjacent word pairs found in the same order
MIN_SIMILARITY = 0.5  # cosine of the two sentences' embeddings
MIN_RELEVANCE = 0.1  # cosine of the answer sentence with the question (or its passage with it)


@dataclass
class Span:
    """A stretch of one passage that can back a sentence; offsets are into the document."""

    passage: int  # 1-based number of the passage in the prompt
    hit: Hit
    start: int
    end: int
    text: str
    terms: set[str] = field(default_factory=set)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    instruction: bool = False


@dataclass
class Checked:
    """One sentence of the model's answer and what the check made of it."""

    text: str  # without markers or bullet
    cited: list[int]  # markers as written
    status: Status = "dropped"
    span: Span | None = None
    score: float = 0.0
    reason: str = ""
    prefix: str = ""  # bullet, kept for rendering
    new_line: bool = False
    intro: Checked | None = None  # the "...are:" line a list item belongs to

    @property
    def is_intro(self) -> bool:
        return self.text.endswith(":")

    @property
    def claim(self) -> str:
        """What is checked: a list item is read together with its intro."""
        return f"{self.intro.text[:-1]} {self.text}" if self.intro else self.text


@dataclass
class Verification:
    sentences: list[Checked]
    answer: Answer | None  # None: too little was supported, use the extractive answer
    supported: int
    counted: int
    removed_markers: list[int]

    @property
    def ratio(self) -> float:
        return self.supported / self.counted if self.counted else 0.0


class Verifier:
    def __init__(
        self,
        embedder: Embedder,
        *,
        min_supported: float,
    ):
        self.embedder = embedder
        self.min_supported = min_supported

    def verify(self, text: str, question: str, passages: list[Hit]) -> Verification:
        """Check ``text`` (an answer citing ``passages`` as [1]..[n]) against those passages."""
        sentences, removed = split_answer(text, len(passages))
        spans = passage_spans(passages)
        expand = acronyms(list({h.chunk.text for h in passages}))
        for span in spans:
            span.terms = _terms(span.text, expand)
            span.pairs = _pairs(span.text)
            span.numbers = _numbers(span.text)
            span.instruction = bool(_INSTRUCTION.search(span.text))
        q_terms = _terms(question, expand)
        q_vec = self.embedder.embed_query(question)
        seen: set[str] = set()
        counted = supported = 0
        for sentence in sentences:
            if sentence.is_intro:
                sentence.status, sentence.reason = "skipped", "list intro: checked with its items"
                continue
            terms = _terms(sentence.claim, expand)
            key = " ".join(sorted(terms))
            if not terms or key in seen:
                sentence.status = "skipped"
                sentence.reason = "repeat" if terms else "no content"
                continue
            seen.add(key)
            counted += 1
            if _INSTRUCTION.search(sentence.claim):
                sentence.reason = "reads like an instruction, not an answer"
                continue
            self._check(sentence, terms, q_terms, q_vec, spans)
            supported += sentence.status in ("kept", "repointed")
        answer = None
        if counted and supported / counted >= self.min_supported and supported:
            answer = render(sentences, question)
        return Verification(sentences, answer, supported, counted, removed)

    def _check(
        self,
        sentence: Checked,
        terms: set[str],
        q_terms: set[str],
        q_vec: np.ndarray,
        spans: list[Span],
    ) -> None:
        new = terms - q_terms or terms  # a sentence that only restates the question must match all
        numbers = _numbers(sentence.claim)
        # word pairs that carry new information must stand in the passage too
        pairs = {pair for pair in _pairs(sentence.claim) if new & set(pair)}
        plausible = []
        for span in spans:
            if span.instruction or not numbers <= span.numbers:
                continue
            coverage = len(new & span.terms) / len(new)
            in_order = len(pairs & span.pairs) / len(pairs) if pairs else 1.0
            if coverage >= MIN_COVERAGE and in_order >= MIN_PAIRS:
                plausible.append((span, coverage))
        if not plausible:
            sentence.reason = "no passage contains what it states"
            return
        vectors = self.embedder.embed_cached([sentence.claim, *(s.text for s, _ in plausible)])
        claim, rest = vectors[0], vectors[1:]
        relevance = float(claim @ q_vec)
        scored: list[tuple[float, Span]] = []
        for (span, coverage), vec in zip(plausible, rest, strict=True):
            similarity = float(vec @ claim)
            if similarity < MIN_SIMILARITY:
                continue
            if max(relevance, float(vec @ q_vec)) < MIN_RELEVANCE:
                continue
            scored.append((0.5 * similarity + 0.5 * coverage, span))
        if not scored:
            sentence.reason = "no passage supports it closely enough"
            return
        # the cited passage wins when it supports the sentence
        score, span = max(scored, key=lambda item: (item[1].passage in sentence.cited, item[0]))
        sentence.score, sentence.span = score, span
        if span.passage in sentence.cited:
            sentence.status = "kept"
        else:
            sentence.status = "repointed"
            sentence.reason = (
                "cited passage does not support it" if sentence.cited else "had no citation"
            )


def split_answer(text: str, n_passages: int) -> tuple[list[Checked], list[int]]:
    """Sentences of a model answer with the markers each one carries; markers that name no
    passage are removed (and reported)."""
    removed: list[int] = []
    out: list[Checked] = []
    number: tuple[str, bool] | None = None
    previous_end = 0
    for start, end in sentence_spans(text):
        piece = text[start:end]
        new_line = "\n" in text[previous_end:start]
        previous_end = end
        lead = _LEADING_MARKERS.match(piece)
        if lead and out:
            # "... found. [2] Next sentence": the marker belongs to the sentence before it
            out[-1].cited.extend(_marker_numbers(lead.group(0)))
            piece = piece[lead.end() :]
            new_line = False
        bullet = LIST_ITEM.match(piece)
        prefix = bullet.group(0).strip() + " " if bullet else ""
        if bullet:
            piece = piece[bullet.end() :]
        cited = _marker_numbers(piece)
        claim = _clean(MARKER.sub(" ", piece))
        if not claim:
            if out:
                out[-1].cited.extend(cited)
            continue
        if _ITEM_NUMBER.fullmatch(claim):  # "1." split off its item by the sentence splitter
            number = (claim + " ", new_line)
            continue
        if number:
            prefix, new_line = number[0] + prefix, number[1]
            number = None
        claim = _PREAMBLE.sub("", claim)
        if not claim:
            continue
        sentence = Checked(claim, cited, prefix=prefix, new_line=new_line and bool(out))
        if out and (prefix or new_line) and not sentence.is_intro:
            before = out[-1]
            intro = before if before.is_intro else before.intro
            if intro is not None and (prefix or not claim.endswith((".", "!", "?"))):
                sentence.intro = intro
        out.append(sentence)
    for sentence in out:
        valid: list[int] = []
        for n in dict.fromkeys(sentence.cited):
            (valid if 1 <= n <= n_passages else removed).append(n)
        sentence.cited = valid
    return out, removed


def passage_spans(passages: list[Hit]) -> list[Span]:
    """Every sentence of the passages (a list intro together with its items), with document
    offsets. Pairs of sentences are not offered: they let a sentence pass by recombining
    the words of two (a sum from one sentence, a name from the next)."""
    return [Span(c.rank + 1, c.hit, c.start, c.end, c.text) for c in candidates(passages)]


def render(sentences: list[Checked], question: str) -> Answer:
    """The supported sentences with their markers renumbered 1..n by first appearance."""
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    shown: set[int] = set()
    for sentence in sentences:
        span = sentence.span
        if span is None or sentence.status not in ("kept", "repointed"):
            continue
        key = (span.hit.chunk.doc_id, span.start, span.end)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            citations.append(
                Citation.of(
                    numbers[key], span.hit.chunk, span.text, span.start, span.end, sentence.score
                )
            )
        intro = sentence.intro
        if intro is not None and id(intro) not in shown:
            shown.add(id(intro))  # once, above its first supported item
            parts.append(("\n" if parts and intro.new_line else " " if parts else "") + intro.text)
        piece = f"{sentence.prefix}{sentence.text} [{numbers[key]}]"
        if parts:
            parts.append(("\n" if sentence.new_line else " ") + piece)
        else:
            parts.append(piece)
    return Answer("".join(parts), False, citations, question=question)


def _marker_numbers(text: str) -> list[int]:
    return [int(n) for m in MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1))]


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def _terms(text: str, expand: dict[str, str]) -> set[str]:
    """Stemmed content words, with acronyms and their spelled-out phrases standing for each
    other ("WPS" and "Women, Peace, and Security")."""
    terms = set(tokens(text))
    for acronym, phrase in expand.items():
        short, long = set(tokens(acronym)), set(tokens(phrase))
        if not short or not long:
            continue
        if short <= terms:
            terms |= long
        elif long <= terms:
            terms |= short
    return terms


def _pairs(text: str) -> set[tuple[str, str]]:
    """Neighbouring content words, in order: "led by the Co-Chairs" is not "Co-Chairs led"."""
    words = tokens(text)
    return set(zip(words, words[1:], strict=False))
