"""The reader: the shipped model loads offline and ranks known pairs; the decision it drives
answers the dev questions, refuses what the sample corpus does not say, and keeps carried
context from making an off-topic follow-up answerable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.conversation import Message
from assistant.evaluate import run_eval
from assistant.reader import (
    CANDIDATE_FEATURES,
    DEFAULT_DECISION,
    DEFAULT_WEIGHTS,
    Calibration,
    Decision,
    candidate_matrix,
    candidates,
    is_fragment,
    question_vector,
)
from assistant.reader_model import PairScorer, pair_text
from assistant.retrieval import Hit
from assistant.service import Service
from ingest.embedding import Embedder
from ingest.store import StoredChunk
from tests.conftest import DEV_QUESTIONS, make_settings

# written for this test: (question, the answering sentence, sentences that do not answer it)
PAIRS = [
    (
        "Who chairs the regional water board?",
        "The regional water board is chaired by the mayor of the largest member city.",
        [
            "The regional water board meets four times a year in the provincial capital.",
            "Water rates rose by three percent after the drought of 2019.",
        ],
    ),
    (
        "In what year was the lighthouse rebuilt?",
        "After the storm destroyed the tower, the lighthouse was rebuilt in 1874 in granite.",
        [
            "The lighthouse stands on a rocky headland north of the harbour.",
            "Its lamp can be seen from twenty miles out at sea.",
        ],
    ),
    (
        "How many judges sit on the appeals panel?",
        "Each appeal is heard by a panel of three judges drawn by lot.",
        [
            "The appeals court was created by the judiciary act.",
            "Judges must retire at the age of seventy.",
        ],
    ),
]


@pytest.fixture(scope="module")
def scorer() -> PairScorer:
    return PairScorer(DEFAULT_WEIGHTS)


def test_the_shipped_reader_is_small_and_loads_offline(scorer: PairScorer) -> None:
    assert DEFAULT_WEIGHTS.is_file()
    assert DEFAULT_WEIGHTS.stat().st_size <= 25 * 1024 * 1024
    calibration = Calibration.load(DEFAULT_WEIGHTS.with_name("reader.calibration.json"))
    assert calibration != Calibration()  # fitted on held-out articles, not the identity
    scorer.logits("warm up?", ["Warm up."])
    assert scorer.loaded


def _evidence(logit: float, support: float, rank: int) -> dict[str, float]:
    return {
        "logit": logit,
        "support": support,
        "prefilter": 0.6,
        "pre_rank": rank,
        "sup_rank": rank,
        "passage_rank": 0,
        "passage_score": 0.7,
        "words": 20,
        "f_dense": 0.5,
        "f_lexical": 0.4,
        "f_novelty": 0.5,
        "f_focus_missing": 0.0,
        "f_type_ok": 1.0,
    }


def test_the_shipped_decision_loads_and_prefers_what_the_reader_prefers() -> None:
    decision = Decision.load(DEFAULT_DECISION)
    assert decision.sentence.features == CANDIDATE_FEATURES
    assert 0.0 < decision.threshold < 1.0 and 0.0 < decision.second_ratio <= 1.0
    assert decision.shortlist >= 1 and decision.by_support >= 0
    # two candidates alike but for the reader's logit: the one it reads as an answer wins
    rows = [_evidence(-4.0, 0.6, 0), _evidence(2.0, 0.6, 1)]
    probs = decision.sentence(candidate_matrix(rows))
    assert probs[1] > probs[0]
    # a question whose best sentence the reader reads as an answer is answered; one whose
    # sentences it reads as unrelated is refused
    weak = [_evidence(-6.0, 0.3, 0), _evidence(-6.5, 0.3, 1)]

    def answerable(cands: list[dict[str, float]]) -> float:
        probs = decision.sentence(candidate_matrix(cands))
        return float(decision.question(np.array(question_vector(cands, probs, 0.8))))

    assert answerable(rows) > decision.threshold > answerable(weak)


@pytest.mark.parametrize("question,answer,others", PAIRS)
def test_the_answering_sentence_ranks_first(
    scorer: PairScorer, question: str, answer: str, others: list[str]
) -> None:
    logits = scorer.logits(question, [pair_text(s, "Notes") for s in [answer, *others]])
    assert logits.argmax() == 0, logits


def test_an_unrelated_sentence_is_unlikely_to_answer(scorer: PairScorer) -> None:
    calibration = Calibration.load(DEFAULT_WEIGHTS.with_name("reader.calibration.json"))
    logit = scorer.logits(
        "What is the capital of Portugal?",
        [pair_text("The council shall meet at least twice a year.", "Council charter")],
    )[0]
    assert calibration(float(logit)) < 0.2


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("Quorum", True),
        ("Membership and Functions", True),
        ("Sec. 3. Functions", True),
        ("(b) Training.", True),
        ("The White House Gender Policy Council.", True),
        ("Ley General de Acceso de las Mujeres a una Vida Libre de Violencia.", True),
        ("Kamala Harris leads the Council.", False),
        ("A quorum is a majority of the members of the Council.", False),
        ("The Secretary shall ensure that personnel receive training on the following:", False),
    ],
)
def test_headings_and_fragments_are_never_answers_alone(text: str, fragment: bool) -> None:
    assert is_fragment(text) is fragment


def test_a_list_intro_is_one_candidate_with_its_items() -> None:
    text = (
        "Staff shall receive training in the following:\n(1) Conflict prevention.\n"
        "(2) Protection of civilians.\nOther staff are not covered."
    )
    chunk = _chunk(text)
    found = candidates([Hit(chunk, 1.0, 1.0, 1.0)])
    intro = found[0]
    assert intro.text.endswith("(2) Protection of civilians.")
    assert intro.start == chunk.start and intro.end == chunk.start + len(intro.text)


def test_fracciones_of_spanish_law_are_list_items() -> None:
    text = (
        "Corresponde al Consejo:\nI. Proponer políticas públicas de igualdad.\n"
        "II. Evaluar anualmente el Programa Nacional.\nIII.- Emitir recomendaciones.\n"
        "El Consejo sesionará cada tres meses."
    )
    intro = candidates([Hit(_chunk(text), 1.0, 1.0, 1.0)])[0]
    assert intro.text.endswith("III.- Emitir recomendaciones.")


def _chunk(text: str) -> StoredChunk:
    return StoredChunk("c", text, "d", "h", 0, 100, 100 + len(text), "", "Doc", "d.md")


def test_dev_questions_on_the_sample_corpus(sample_service: Service) -> None:
    """The reader's veto costs none of the dev questions."""
    report = run_eval(sample_service, DEV_QUESTIONS)
    rows = {r["id"]: r for r in report["questions"]}
    answerable = [r for r in rows.values() if r["answerable"]]
    assert all(r["cited_gold"] for r in answerable), [
        (r["id"], r["answer"]) for r in answerable if not r["cited_gold"]
    ]
    assert all(r["refused"] for r in rows.values() if not r["answerable"])
    assert not rows["d08"]["refused"]  # the follow-up
    summary = report["summary"]
    assert summary["refusal_precision"] == 1.0 and summary["false_refusal_rate"] == 0.0


HARBOUR = """# The harbour of Port Ellen

The lighthouse at Port Ellen was rebuilt in 1874 in granite, after a storm destroyed the
wooden tower.

The harbour master is appointed by the town council for a term of five years.

The harbour was dredged in 1921 so that steamers could berth at low tide.
"""


def test_the_reader_refuses_a_decoy_the_support_score_would_answer(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Written to look answerable, as SQuAD 2.0's unanswerable questions are: the dredging
    sentence shares its words and has a year, but says 1921, not what was dredged in 1874."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    service = Service(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest([docs])
    decoy = "What was dredged in 1874?"
    hits, ranked = service.answerer.rank(decoy)
    assert "dredged in 1921" in ranked[0].text
    assert ranked[0].support >= service.answerer.threshold  # the support score alone answers
    assert service.ask(decoy).refused
    answer = service.ask("When was the harbour dredged?")
    assert not answer.refused and "1921" in answer.citations[0].quote  # it leads the answer
    assert len(answer.citations) <= 2


CHARTER = """# Council charter

## Quorum

## Meetings

A majority of the members present constitutes a quorum for a vote of the Council.

## Membership

The Council has nine members appointed for three years.
"""


def test_a_heading_is_never_the_answer(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "charter.md").write_text(CHARTER, encoding="utf-8")
    service = Service(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest([docs])
    answer = service.ask("What is the quorum of the Council?")
    assert not answer.refused
    assert answer.citations[0].quote.startswith("A majority of the members present")
    assert not any(is_fragment(c.quote) for c in answer.citations)


@pytest.mark.parametrize(
    "followup",
    [
        "And what is the capital of France?",
        "What about the population of that city in 1900?",
    ],
)
def test_an_off_topic_followup_is_refused(sample_service: Service, followup: str) -> None:
    first = "What does the Women, Peace, and Security strategy require of the State Department?"
    answer = sample_service.ask(first)
    history = [Message("user", first), Message("assistant", answer.answer)]
    assert sample_service.ask(followup, history).refused


def test_an_on_topic_followup_is_answered(sample_service: Service) -> None:
    questions = {q["id"]: q for q in map(json.loads, DEV_QUESTIONS.read_text().splitlines())}
    parent, follow = questions["d07"], questions["d08"]
    first = sample_service.ask(parent["question"])
    history = [Message("user", parent["question"]), Message("assistant", first.answer)]
    answer = sample_service.ask(follow["question"], history)
    assert not answer.refused
    assert any("humanitarian law" in c.quote for c in answer.citations)
