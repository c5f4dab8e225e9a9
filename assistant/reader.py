"""The answer decision: which retrieved sentence answers, and whether any does.

1. Candidates are the sentences of the retrieved passages (a list intro together with its items);
   ``score_support`` gives each one's support: similarity, coverage of the question's
   distinctive words, retrieval rank, and whether it holds what the question asks for (its
   focus terms, a count for "how many", a date or a name).
2. A cheap shortlist: the sentence vector pooled from its chunk's encoding at ingest
   (ingest.span_vectors) against the question, plus how much of the question's rarer words the
   sentence holds; the best-supported sentences join it.
3. The reader, a cross-encoder trained on SQuAD 2.0 (assistant.reader_model,
   bench/train_reader.py), reads each shortlisted sentence with its document title and
   neighbours and gives a logit.
4. The decision (``reader.decision.json``, learned by bench/fit_decision.py on articles the reader
   never saw): a logistic model over the reader's logit, the support score's parts and the
   retrieval ranks gives each sentence's probability of holding the answer; a second one, over
   the best sentences' probabilities and the question's evidence, the probability that the answer
   quoted is right. Below ``threshold`` the answer is a refusal. The answer is the best sentence,
   with the second best when its probability is close (``second_ratio``).
5. A follow-up carries its earlier question as context, but its own words must be answered
   too: the shortlisted sentences are also read against the follow-up alone, and the answer
   stands only if one of them clears ``followup_floor`` as well.
6. Within a scope (chosen documents or tags), the relative evidence can look good in documents
   that do not cover the question; the best sentence read must clear ``scope_floor`` too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.keyword import KeywordIndex
from assistant.reader_model import PairScorer, pair_text
from assistant.retrieval import Hit
from assistant.text import QUESTION_WORDS, acronyms, tokens
from ingest.document import overlaps
from ingest.embedding import Embedder
from ingest.sentences import BULLET, is_intro, is_list_item, sentence_spans
from ingest.store import ChromaStore

MODEL_DIR = Path(__file__).parent / "models"
DEFAULT_WEIGHTS = MODEL_DIR / "reader.safetensors"
DEFAULT_DECISION = MODEL_DIR / "reader.decision.json"
MAX_QUOTE_CHARS = 900
# candidates given a sentence vector by score_support (the rest are never chosen over them)
_SHORTLIST = 16
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
    prob: float = 0.0  # the decision's probability that it holds the answer (0 when not read)
    pre_rank: int = 0  # its rank by prefilter, and by support, among all candidates
    sup_rank: int = 0

    @property
    def doc_id(self) -> str:
        return self.hit.chunk.doc_id


@dataclass
class Reading:
    """What the reader decided for one question."""

    candidates: list[Candidate]  # most likely to hold the answer first
    answerable: float  # probability that the answer quoted is right
    answered: bool
    cited: list[Candidate] = field(default_factory=list)  # the answer's sentences, best first
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


CANDIDATE_FEATURES = (
    "logit",
    "logit_gap",
    "support",
    "support_gap",
    "dense",
    "lexical",
    "passage_score",
    "novelty",
    "focus_missing",
    "type_ok",
    "prefilter",
    "prefilter_gap",
    "first_pre",
    "first_sup",
    "passage_rank",
    "log_words",
)
QUESTION_FEATURES = ("p1", "p2", "logit1", "support1", "gap12", "agree", "top_hit")


def evidence(cand: Candidate) -> dict[str, float]:
    """What the decision reads of one candidate (bench/decision_data.py records the same)."""
    f = cand.features
    return {
        "logit": cand.logit,
        "support": cand.support,
        "prefilter": cand.prefilter,
        "pre_rank": cand.pre_rank,
        "sup_rank": cand.sup_rank,
        "passage_rank": cand.rank,
        "passage_score": cand.hit.score,
        "words": len(cand.text.split()),
        "f_dense": f.get("dense", 0.0),
        "f_lexical": f.get("lexical", 0.0),
        "f_novelty": f.get("novelty", 0.0),
        "f_focus_missing": f.get("focus_missing", 0.0),
        "f_type_ok": f.get("type_ok", 1.0),
    }


def candidate_matrix(cands: list[dict[str, Any]]) -> np.ndarray:
    """One row of CANDIDATE_FEATURES per candidate read; gaps and firsts are relative to the
    question's other candidates."""
    if not cands:
        return np.zeros((0, len(CANDIDATE_FEATURES)))
    top_logit = max(c["logit"] for c in cands)
    top_support = max(c["support"] for c in cands)
    top_pre = max(c["prefilter"] for c in cands)
    first_pre = min(c["pre_rank"] for c in cands)
    first_sup = min(c["sup_rank"] for c in cands)
    rows = [
        [
            c["logit"],
            c["logit"] - top_logit,
            c["support"],
            c["support"] - top_support,
            c["f_dense"],
            c["f_lexical"],
            c["passage_score"],
            c["f_novelty"],
            c["f_focus_missing"],
            c["f_type_ok"],
            c["prefilter"],
            c["prefilter"] - top_pre,
            float(c["pre_rank"] == first_pre),
            float(c["sup_rank"] == first_sup),
            float(c["passage_rank"]),
            math.log(1 + c["words"]),
        ]
        for c in cands
    ]
    return np.array(rows, dtype=float)


def question_vector(cands: list[dict[str, Any]], probs: np.ndarray, top_hit: float) -> list[float]:
    """QUESTION_FEATURES: the best candidates' probabilities and the question's evidence."""
    if not len(probs):
        return [0.0, 0.0, -10.0, -1.0, 0.0, 0.0, top_hit]
    order = np.argsort(-probs)
    p1 = float(probs[order[0]])
    p2 = float(probs[order[1]]) if len(order) > 1 else 0.0
    best = cands[order[0]]
    agree = float(best["logit"] == max(c["logit"] for c in cands)) + float(
        best["support"] == max(c["support"] for c in cands)
    )
    return [p1, p2, best["logit"], best["support"], p1 - p2, agree, top_hit]


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(x @ weights + bias) over named features."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(x @ self.weights + self.bias, -30, 30)))

    @classmethod
    def from_dict(cls, data: dict[str, Any], expected: tuple[str, ...]) -> Logistic:
        if tuple(data["features"]) != expected:
            raise ValueError(f"decision model features {data['features']} != {list(expected)}")
        return cls(expected, np.asarray(data["weights"], dtype=float), float(data["bias"]))


@dataclass(frozen=True)
class Decision:
    """The learned decision, as bench/fit_decision.py writes it."""

    sentence: Logistic
    question: Logistic
    threshold: float  # chosen for the refusal precision in ``target_refusal_precision``
    second_ratio: float
    shortlist: int
    by_support: int
    support_floor: float | None = None  # below it no candidate shares enough with the question
    window: int | None = None  # only the best supported this many are read (None: any)

    @classmethod
    def load(cls, path: Path) -> Decision:
        data = json.loads(path.read_text())
        return cls(
            Logistic.from_dict(data["sentence"], CANDIDATE_FEATURES),
            Logistic.from_dict(data["question"], QUESTION_FEATURES),
            float(data["threshold"]),
            float(data["second_ratio"]),
            int(data["shortlist"]),
            int(data["by_support"]),
            None if data.get("support_floor") is None else float(data["support_floor"]),
            None if data.get("window") is None else int(data["window"]),
        )


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
                    and is_list_item(text, *spans[j])
                    and spans[j][1] - s <= MAX_QUOTE_CHARS
                ):
                    j += 1
            end = spans[j - 1][1]
            bullet = BULLET.match(text, s, end)
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


def sentence_vectors(store: ChromaStore, embedder: Embedder, cands: list[Candidate]) -> np.ndarray:
    """The candidates' sentence vectors: pooled from their chunk's encoding at ingest
    (ingest.span_vectors, read from the store for these chunks only), or encoded now for chunks
    stored without one (or gone from the store since they were retrieved)."""
    stored = store.span_vectors(list({c.hit.chunk.chunk_id: c.hit.chunk for c in cands}.values()))
    pooled = []
    for c in cands:
        spans = stored.get(c.hit.chunk.chunk_id)
        start = c.start - c.hit.chunk.start
        pooled.append(None if spans is None else spans.vector(start, c.end - c.hit.chunk.start))
    missing = [c.text for c, v in zip(cands, pooled, strict=True) if v is None]
    encoded = iter(embedder.embed_cached(missing)) if missing else iter(())
    return np.stack([v if v is not None else next(encoded) for v in pooled])


def is_fragment(text: str) -> bool:
    """A heading, label or cut-off phrase: never an answer on its own."""
    words = _WORD.findall(text)
    if len(words) < 4:
        return True
    stripped = text.rstrip()
    ends = stripped.endswith((".", "!", "?", '"', "”", ")", ";", ":"))
    if not ends and len(words) < 8 and "\n" not in stripped:
        return True
    # a title: every longer word capitalised ("The White House Gender Policy Council.",
    # "Ley General de Acceso de las Mujeres.")
    long = [w for w in words if len(w) > 3 and not w.isdigit()]
    return len(words) < 16 and len(long) >= 2 and all(w[0].isupper() for w in long)


# What a question asks for: its focus terms, which the evidence must contain. "Who was the course
# director of ...?" asks for a course director: a passage about the course that never mentions a
# director cannot answer it, however similar it is. Category words such as "body", "amount" or
# "country" are exempt: the answer names an instance, not the category.
_WH = r"(?:what|which|who|whom|whose|how\s+(?:many|much|long|often|old|large|big))"
_BE = (
    r"(?:is|are|was|were|be|been|does|do|did|has|have|had|can|could|will|would|shall|"
    r"should|must|may)"
)
_FOCUS = re.compile(
    rf"^\s*(?:and\s+|so\s+|then\s+)?(?P<wh>{_WH})\b(?:\s+{_BE}\b)?(?:\s+(?:the|a|an|this|that|"
    rf"these|those|its|their|his|her))?\s+(?P<np>[^?,;]+)",
    re.IGNORECASE,
)
# words that end the noun phrase: verbs, prepositions, clause starters
_NP_END = re.compile(
    r"\b(?:is|are|was|were|be|been|does|do|did|has|have|had|can|could|will|would|shall|should|"
    r"must|may|might|of|in|on|at|for|to|from|by|with|under|about|that|which|who|whom|when|"
    r"where|per|during|between|against|into|through)\b",
    re.IGNORECASE,
)
GENERIC = frozenset(
    tokens(
        """body bodies kind kinds type types sort form forms amount amounts money number numbers
        sum total percentage share entity entities organization organizations organisation
        group groups person people individual individuals official officials country countries
        nation nations place places location date dates day days year years time times way ways
        method methods means reason reasons purpose purposes role roles name names thing things
        item items part parts aspect aspects step steps area areas factor factors topic topics
        subject subjects issue issues document documents action actions measure measures
        element elements category categories example examples goal goals level levels
        requirement requirements responsibility responsibilities one ones law laws
        provision provisions"""
    )
)


def focus_terms(question: str) -> tuple[list[str], bool]:
    """Stemmed head terms of the thing the question asks about, and whether they are
    required: "who was the course director", "how many hours" name what the answer must
    mention; for "what/which X" the answer may name an instance of X instead."""
    match = _FOCUS.match(question)
    if not match:
        return [], False
    wh = match.group("wh").lower()
    after_wh = question[match.end("wh") :]
    if wh in {"who", "whom"} and not re.match(r"^\s*(?:is|are|was|were)\b", after_wh, re.I):
        return [], False  # "Who leads X?" asks for a person; the verb is not the focus
    if wh.startswith("how") and re.match(rf"^\s*{_BE}\b", after_wh, re.I):
        return [], False  # "How much does X cost?" has no noun focus
    phrase = match.group("np")
    end = _NP_END.search(phrase)
    if end:
        phrase = phrase[: end.start()]
    words = phrase.split()
    # a past-tense verb ends the phrase ("countries joined ...")
    for i, word in enumerate(words[1:], start=1):
        if re.search(r"ed$", word, re.I):
            words = words[:i]
            break
    required = wh in {"who", "whom"} or wh.startswith("how")
    if required:
        # in "officers and lawyers" the last conjunct carries the head noun
        words = re.split(r"\s+(?:and|or)\s+", " ".join(words))[-1].split()
        terms = [t for t in tokens(" ".join(words[-1:])) if t not in GENERIC]
        return terms, True
    # "which X ..." without a clear end: the first words are the noun phrase
    words = words[:2] if len(words) > 3 else words[-2:]
    return [t for t in tokens(" ".join(words)) if t not in GENERIC], False


_COUNT = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|twenty|thirty|forty|fifty|hundred|thousand|dozens?|hundreds|thousands|"
    r"millions?|billions?|several|all|no|both|each)\b",
    re.IGNORECASE,
)


def counted(question: str, sentence: str, head: str) -> bool:
    """For "how many X": is some X in the sentence preceded closely by a number?"""
    if not re.match(r"^\s*how\s+many\b", question, re.I):
        return True
    words = re.findall(r"[\w$.,%-]+", sentence)
    for i, word in enumerate(words):
        if tokens(word) == [head] and any(_COUNT.search(w) for w in words[max(0, i - 6) : i]):
            return True
    return False


_NAME_Q = re.compile(r"\b(?:names?\s+of|who\s+(?:is|are|was|were)|named|called)\b", re.I)
_PROPER_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+\b")


_NUMBER_Q = re.compile(
    r"^\s*(?:how\s+(?:many|much|long|often|old)|what\s+(?:percentage|percent|number|amount|sum|"
    r"share|proportion)|in\s+what\s+year)\b",
    re.IGNORECASE,
)
_WHEN_Q = re.compile(r"^\s*(?:when|what\s+(?:year|date|day|month))\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|billion|half|once|twice|annual|annually|"
    r"yearly|quarterly|monthly|weekly|daily)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:1[89]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|"
    r"October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b"
)


def answer_type_ok(question: str, sentence: str) -> bool:
    """Whether the sentence has the kind of thing the question asks for (number, date, name)."""
    if _NAME_Q.search(question):
        asked = question.lower()
        return any(m.group().lower() not in asked for m in _PROPER_NAME.finditer(sentence))
    if _WHEN_Q.match(question):
        return bool(_DATE.search(sentence))
    if _NUMBER_Q.match(question):
        return bool(_NUMBER.search(sentence))
    return True


def score_support(
    question: str,
    context: str,
    cands: list[Candidate],
    *,
    embedder: Embedder,
    keyword: KeywordIndex,
) -> None:
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
        weight[t] = math.log(1 + (n - df + 0.5) / (df + 0.5)) * min(keyword.idf(t), 6.0)
    mass = sum(weight.values()) or 1.0
    asked = set(q_terms) | set(tokens(context))
    q_vec = embedder.embed_query(f"{context} {question}".strip())
    for cand, terms in zip(cands, cand_terms, strict=True):
        # words of the document title say which document, not which sentence answers
        title = _title_terms(cand)
        lexical = (
            sum(w * (0.3 if t in title else 1.0) for t, w in weight.items() if t in terms) / mass
        )
        nearby = terms | _chunk_terms(cand)
        if focus_required:
            missing = [t for t in focus if t not in terms]
            if focus and not missing and not counted(question, cand.text, focus[-1]):
                missing = focus
        else:
            missing = [t for t in focus if t not in nearby]
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
    vectors = sentence_vectors(keyword.store, embedder, shortlist)
    for cand, sim in zip(shortlist, vectors @ q_vec, strict=True):
        cand.features["dense"] = float(sim)
        cand.support += 0.5 * float(sim)
    embedded = {id(c) for c in shortlist}
    for cand in cands:
        if id(cand) not in embedded:
            cand.support -= 1.0  # never chosen over an embedded, scored sentence


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


class Reader:
    def __init__(
        self,
        embedder: Embedder,
        keyword: KeywordIndex,
        *,
        weights: Path = DEFAULT_WEIGHTS,
        decision: Path = DEFAULT_DECISION,
        threshold: float | None,
        followup_floor: float,
        scope_floor: float,
        shortlist: int | None,
    ):
        self.embedder = embedder
        self.keyword = keyword
        self.scorer = PairScorer(weights)
        self.calibration = Calibration.load(weights.with_name(weights.stem + ".calibration.json"))
        self.decision = Decision.load(decision)
        self.threshold = self.decision.threshold if threshold is None else threshold
        self.followup_floor = followup_floor
        self.scope_floor = scope_floor
        self.shortlist = self.decision.shortlist if shortlist is None else shortlist

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
        scoped: bool = False,
    ) -> Reading:
        """The decision on ``cands`` (default: the candidates of ``hits``), given best
        supported first; ``scoped`` when retrieval was limited to chosen documents."""
        cands = candidates(hits) if cands is None else cands
        if not cands:
            return Reading([], 0.0, False, reasons=["no passages"])
        asked = f"{context} {question}".strip() if context else question
        self._prefilter(asked, cands)
        for r, cand in enumerate(cands):
            cand.sup_rank = r
        for r, cand in enumerate(sorted(cands, key=lambda c: -c.prefilter)):
            cand.pre_rank = r
        window = self.decision.window
        short = [
            c
            for c in cands
            if (c.pre_rank < self.shortlist or c.sup_rank < self.decision.by_support)
            and (window is None or c.sup_rank < window)
            and not is_fragment(c.text)  # a heading never answers
        ]
        if not short:
            return Reading(cands, 0.0, False, reasons=["only headings and fragments retrieved"])
        logits = self.scorer.logits(asked, [self._pair(c) for c in short])
        for cand, logit in zip(short, logits, strict=True):
            cand.logit = float(logit)
        rows = [evidence(c) for c in short]
        probs = self.decision.sentence(candidate_matrix(rows))
        for cand, prob in zip(short, probs, strict=True):
            cand.prob = float(prob)
        top_hit = hits[0].score if hits else 0.0
        answerable = float(self.decision.question(np.array(question_vector(rows, probs, top_hit))))
        ranked = sorted(short, key=lambda c: -c.prob)
        cited = ranked[:1]
        close = len(ranked) > 1 and ranked[1].prob >= self.decision.second_ratio * ranked[0].prob
        if close and not overlaps(ranked[0], ranked[1]):
            cited.append(ranked[1])
        reading = Reading(ranked, answerable, answerable >= self.threshold, cited)
        if not reading.answered:
            reading.reasons.append(f"the best answer is right with p={answerable:.2f}")
        floor = self.decision.support_floor
        top_support = max(c.support for c in short)
        if floor is not None and top_support < floor:
            reading.answered = False
            reading.reasons.append(f"no sentence's support reaches {floor} ({top_support:.2f})")
        if scoped and reading.answered:
            # the decision's features are relative to the best of what was retrieved; within
            # a scope that best can be a document that does not cover the question at all, so
            # the best sentence must itself clear scope_floor (chosen by bench/scope.py)
            best = self.calibration(max(c.logit for c in short))
            if best < self.scope_floor:
                reading.answered = False
                reading.reasons.append(
                    f"within the chosen documents the best sentence is supported with p={best:.2f}"
                )
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
        q_terms = list(dict.fromkeys(tokens(question)))
        weight = {t: min(self.keyword.idf(t), 8.0) for t in q_terms}
        mass = sum(weight.values()) or 1.0
        q_vec = self.embedder.embed_query(question)
        sims = sentence_vectors(self.keyword.store, self.embedder, cands) @ q_vec
        for cand, sim in zip(cands, sims, strict=True):
            terms = set(tokens(cand.text))
            lexical = sum(w for t, w in weight.items() if t in terms) / mass
            cand.prefilter = float(sim) + 0.5 * lexical + 0.1 * cand.hit.score
