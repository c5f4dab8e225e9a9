"""The learned part of the answer decision: whether the retrieved sentences answer the question.

The extractive answerer (assistant.answer) picks the sentence to quote with its support score;
before it answers, the reader, a cross-encoder trained on SQuAD 2.0 (assistant.reader_model,
bench/train_reader.py), reads the question with the candidate sentences and gives the
probability that one of them answers it. Below ``threshold`` the answer is a refusal: this
catches questions written to look answerable (a decoy sentence shares their words), which the
support score, built from word overlap and similarity, answers.

1. Candidates are the sentences of the retrieved passages (a list intro together with its items).
2. A cheap shortlist: the sentence vector pooled from its chunk's encoding at ingest
   (ingest.span_vectors) against the question, plus how much of the question's rarer words the
   sentence holds.
3. The reader reads each shortlisted sentence with its document title and neighbours; its
   logit, calibrated on articles it never saw, is the probability that the sentence answers.
   The best sentence's probability is the probability that the passages answer at all.
4. A follow-up carries its earlier question as context, but its own words must be answered
   too: the shortlisted sentences are also read against the follow-up alone, and the answer
   stands only if one of them clears ``followup_floor`` as well.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.keyword import KeywordIndex, Snapshot
from assistant.reader_model import PairScorer, pair_text
from assistant.retrieval import Hit
from assistant.text import tokens
from ingest.embedding import Embedder
from ingest.sentences import sentence_spans

MODEL_DIR = Path(__file__).parent / "models"
DEFAULT_WEIGHTS = MODEL_DIR / "reader.safetensors"
MAX_QUOTE_CHARS = 900
# "(a)", "(iv)", "1.", "2)", bullets, and the fracciones of Spanish-language law: "I.", "IV.-", "a)"
_LIST_ITEM = re.compile(r"^\s*(?:\(\w{1,4}\)|\d{1,3}[.)]|[IVXLC]{1,6}\.-?|[a-z]\)|[-*•])\s+")
_LIST_INTRO = re.compile(r"(?::|\b(?:following|including|include|includes|are|as follows))\s*$")
_BULLET = re.compile(r"[-*•]\s+")
_WORD = re.compile(r"[^\W_]+")


@dataclass
class Candidate:
    hit: Hit
    rank: int  # of its passage in the retrieval
    start: int  # offsets into the document
    end: int
    text: str
    before: str = ""  # neighbouring text in its chunk, for the reader
    after: str = ""
    support: float = 0.0  # the answerer's support score
    features: dict[str, float] = field(default_factory=dict)  # what the support is made of
    prefilter: float = 0.0
    logit: float = -math.inf  # the reader's; -inf when it was not read
    prob: float = 0.0  # calibrated probability that it answers (0 when not read)


@dataclass
class Reading:
    """What the reader decided for one question."""

    candidates: list[Candidate]  # best supported first
    answerable: float  # probability that the passages answer the question
    answered: bool
    followup: float | None = None  # the best sentence read against the follow-up alone
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Calibration:
    """Logistic map from the reader's logit to a probability, fitted on held-out articles."""

    scale: float = 1.0
    bias: float = 0.0

    def __call__(self, logit: float) -> float:
        if logit == -math.inf:
            return 0.0
        return 1.0 / (1.0 + math.exp(-(self.scale * logit + self.bias)))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls(float(data["scale"]), float(data["bias"]))


def candidates(hits: list[Hit]) -> list[Candidate]:
    """Sentences of the retrieved chunks; a list intro is kept together with its items."""
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits):
        text = hit.chunk.text
        spans = sentence_spans(text)
        i = 0
        while i < len(spans):
            s, e = spans[i]
            j = i + 1
            if is_intro(text[s:e]):
                while (
                    j < len(spans)
                    and _LIST_ITEM.match(text[spans[j][0] : spans[j][1]])
                    and spans[j][1] - s <= MAX_QUOTE_CHARS
                ):
                    j += 1
            end = spans[j - 1][1]
            bullet = _BULLET.match(text, s, end)
            if bullet:  # quote the item, not its bullet
                s = bullet.end()
            key = (hit.chunk.doc_id, hit.chunk.start + s)
            if key not in seen:
                seen.add(key)
                before = text[spans[i - 1][0] : spans[i - 1][1]] if i > 0 else ""
                after = text[spans[j][0] : spans[j][1]] if j < len(spans) else ""
                out.append(
                    Candidate(
                        hit,
                        rank,
                        hit.chunk.start + s,
                        hit.chunk.start + end,
                        text[s:end],
                        before,
                        after,
                    )
                )
            i += 1
    return out


def sentence_vectors(index: Snapshot, embedder: Embedder, cands: list[Candidate]) -> np.ndarray:
    """The candidates' sentence vectors: pooled from their chunk's encoding at ingest
    (ingest.span_vectors), or encoded now for chunks stored without one."""
    pooled = [
        index.span_vector(
            c.hit.chunk.chunk_id, c.start - c.hit.chunk.start, c.end - c.hit.chunk.start
        )
        for c in cands
    ]
    missing = [c.text for c, v in zip(cands, pooled, strict=True) if v is None]
    encoded = iter(embedder.embed_cached(missing)) if missing else iter(())
    return np.stack([v if v is not None else next(encoded) for v in pooled])


def is_intro(sentence: str) -> bool:
    """A sentence that introduces a list ("... the following:") or is cut off before one."""
    stripped = sentence.rstrip()
    return bool(_LIST_INTRO.search(stripped)) or not stripped.endswith(
        (".", "!", "?", '"', "”", ")", ";")
    )


def is_fragment(text: str) -> bool:
    """A heading, label or cut-off phrase: never an answer on its own."""
    words = _WORD.findall(text)
    if len(words) < 4:
        return True
    stripped = text.rstrip()
    ends = stripped.endswith((".", "!", "?", '"', "”", ")", ";", ":"))
    return not ends and len(words) < 8 and "\n" not in stripped


class Reader:
    def __init__(
        self,
        embedder: Embedder,
        keyword: KeywordIndex,
        *,
        weights: Path = DEFAULT_WEIGHTS,
        threshold: float = 0.1,
        followup_floor: float = 0.08,
        shortlist: int = 4,
    ):
        self.embedder = embedder
        self.keyword = keyword
        self.scorer = PairScorer(weights)
        self.calibration = Calibration.load(weights.with_name(weights.stem + ".calibration.json"))
        self.threshold = threshold
        self.followup_floor = followup_floor
        self.shortlist = shortlist

    def warm_up(self) -> None:
        """Load the model (and its kernels) now rather than during the first question."""
        self.scorer.logits("warm up?", ["Warm up."])

    def read(
        self,
        question: str,
        hits: list[Hit],
        *,
        context: str = "",
        cands: list[Candidate] | None = None,
    ) -> Reading:
        """The reader's decision on ``cands`` (default: the candidates of ``hits``)."""
        cands = candidates(hits) if cands is None else cands
        if not cands:
            return Reading([], 0.0, False, reasons=["no passages"])
        asked = f"{context} {question}".strip() if context else question
        self._prefilter(asked, cands)
        short = sorted(cands, key=lambda c: -c.prefilter)[: self.shortlist]
        short = [c for c in short if not is_fragment(c.text)] or short[:1]
        logits = self.scorer.logits(asked, [self._pair(c) for c in short])
        for cand, logit in zip(short, logits, strict=True):
            cand.logit = float(logit)
            cand.prob = self.calibration(cand.logit)
        ranked = sorted(cands, key=lambda c: (-c.logit, -c.prefilter))
        best = ranked[0]
        answerable = best.prob if not is_fragment(best.text) else 0.0
        reading = Reading(ranked, answerable, answerable >= self.threshold)
        if not reading.answered:
            reading.reasons.append(f"best sentence supports it with p={answerable:.2f}")
        if context and reading.answered:
            # the follow-up's own content must be answered, not only the carried question: by
            # one of the sentences read (followup_floor was set on the best of four sentences
            # of an unrelated article, bench/calibrate_reader.py)
            alone = self.scorer.logits(question, [self._pair(c) for c in short])
            reading.followup = self.calibration(float(alone.max()))
            if reading.followup < self.followup_floor:
                reading.answered = False
                reading.reasons.append(
                    f"the follow-up itself is supported with p={reading.followup:.2f}"
                )
        return reading

    def _pair(self, cand: Candidate) -> str:
        return pair_text(cand.text, cand.hit.chunk.title, cand.before, cand.after)

    def _prefilter(self, question: str, cands: list[Candidate]) -> None:
        """Pooled-vector similarity plus idf-weighted coverage of the question's words."""
        index = self.keyword.snapshot()
        q_terms = list(dict.fromkeys(tokens(question)))
        weight = {t: min(index.idf(t), 8.0) for t in q_terms}
        mass = sum(weight.values()) or 1.0
        q_vec = self.embedder.embed_query(question)
        sims = sentence_vectors(index, self.embedder, cands) @ q_vec
        for cand, sim in zip(cands, sims, strict=True):
            terms = set(tokens(cand.text))
            lexical = sum(w for t, w in weight.items() if t in terms) / mass
            cand.prefilter = float(sim) + 0.5 * lexical + 0.1 * cand.hit.score
