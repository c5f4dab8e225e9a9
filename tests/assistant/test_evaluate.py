"""`assistant eval`: quote matching, the questions file, summary figures on hand-made rows with
known values, and one run over the small corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from assistant.conversation import Message
from assistant.errors import BadRequest
from assistant.evaluate import (
    _history,
    load_questions,
    overlaps,
    refusal_figures,
    render_report,
    run_eval,
    summarize,
)
from assistant.service import Service

GOLD = "The Security Council adopted resolution 1325 in October 2000."
# the gold sentence followed by the next one: a passage that holds only the first still counts
TWO = GOLD + " It calls for the participation of women in peace processes, at every level."


@pytest.mark.parametrize(
    "gold,text,expected",
    [
        (GOLD, f"Beta notes. {GOLD} It calls for more.", True),  # the passage holds the quote
        (GOLD, "the security  council adopted\nresolution 1325 in october 2000.", True),
        (GOLD, "adopted resolution 1325 in October", True),  # a long enough piece of the quote
        (GOLD, "resolution 1325", False),  # too short a piece to identify it
        (TWO, "Later on. " + GOLD + " Then nothing else of it.", True),  # 60+ shared chars
        (GOLD, "The national strategy sets four lines of effort.", False),
        ("", GOLD, False),
        (GOLD, "   ", False),
    ],
    ids=["contains", "case-and-space", "long-piece", "short-piece", "partial", "other", "no-gold"]
    + ["blank-text"],
)
def test_overlaps_matches_a_gold_quote(gold: str, text: str, expected: bool) -> None:
    assert overlaps(gold, text) is expected


def write_questions(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n", encoding="utf-8")
    return path


def test_load_questions_fills_in_ids_and_answerable(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"question": "First?"}\n\n{"id": "x", "question": "Second?", "answerable": false}\n',
        encoding="utf-8",
    )
    questions = load_questions(path)
    assert [(q["id"], q["answerable"]) for q in questions] == [("q1", True), ("x", False)]


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"question": "ok"}\n{not json\n', r"q\.jsonl:2: not valid JSON"),
        ('{"question": 3}\n', r'q\.jsonl:1: each line needs a "question" string'),
        ('["question"]\n', r'q\.jsonl:1: each line needs a "question" string'),
        ('{"id": "a", "question": "?", "followup_of": "z"}\n', "followup_of 'z' is not in the"),
    ],
    ids=["bad-json", "question-not-string", "not-an-object", "unknown-parent"],
)
def test_load_questions_rejects_bad_lines_saying_where(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadRequest, match=message):
        load_questions(path)


def test_load_questions_of_a_missing_file_is_a_bad_request(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="cannot read"):
        load_questions(tmp_path / "missing.jsonl")


def test_a_followup_is_asked_after_its_whole_chain() -> None:
    questions = [
        {"id": "a", "question": "Who adopted resolution 1325?"},
        {"id": "b", "question": "When?", "followup_of": "a"},
        {"id": "c", "question": "And what does it call for?", "followup_of": "b"},
    ]
    by_id = {q["id"]: q for q in questions}
    history = _history(questions[2], by_id, {"a": "The Security Council. [1]"})
    assert history == [
        Message("user", "Who adopted resolution 1325?"),
        Message("assistant", "The Security Council. [1]"),
        Message("user", "When?"),
        Message("assistant", ""),  # not answered (yet): an empty turn, never a crash
    ]
    assert _history(questions[0], by_id, {}) == []


def row(answerable: bool, refused: bool, rank: int | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "",
        "answerable": answerable,
        "refused": refused,
        "refusal_correct": refused != answerable,
        "gold_rank": rank,
        "cited_gold": fields.get("cited", False),
        "keywords_ok": fields.get("keywords"),
        "sentences": fields.get("sentences", 0),
        "latency_ms": fields["ms"],
    }


# 4 answerable (one wrongly refused), 3 unanswerable (one rightly refused)
ROWS = [
    row(True, False, 1, cited=True, keywords=True, sentences=2, ms=10.0),
    row(True, False, 3, keywords=False, sentences=1, ms=30.0),
    row(True, True, None, ms=20.0),
    row(True, False, 7, cited=True, keywords=True, sentences=3, ms=40.0),
    row(False, True, ms=5.0),
    row(False, False, sentences=1, ms=50.0),
    row(False, False, sentences=1, ms=60.0),
]


def test_summary_figures_of_hand_made_rows() -> None:
    assert summarize(ROWS) == {
        "questions": 7,
        "answerable": 4,
        "unanswerable": 3,
        "hit@1": 0.25,  # rank 1 once in 4
        "hit@5": 0.5,  # ranks 1 and 3
        "mrr": 0.369,  # (1 + 1/3 + 1/7) / 4
        "keyword_accuracy": 0.6667,  # 2 of the 3 with keywords
        "keyword_hits": "2/3",
        "citation_accuracy": 0.5,
        "citation_hits": "2/4",
        "refusal_precision": 0.5,  # 2 refusals, 1 right
        "refusal_recall": 0.3333,  # 1 of 3 unanswerable refused
        "refusal_f1": 0.4,
        "false_refusal_rate": 0.25,
        "unanswerable_answered": 2,
        "sentences_per_answer": 1.6,  # 8 sentences over 5 answers
        "p50_latency_ms": 30.0,
    }


def test_refusal_figures_without_denominators_are_none_not_zero() -> None:
    never_refused = [row(True, False, 1, sentences=1, ms=1.0)]
    figures = refusal_figures(never_refused)
    assert figures["refusal_precision"] is None and figures["refusal_recall"] is None
    assert figures["refusal_f1"] is None and figures["false_refusal_rate"] == 0.0
    # refusing only answerable questions: precision and recall 0, so F1 is 0 (no division)
    wrong = [row(True, True, ms=1.0), row(False, False, sentences=1, ms=1.0)]
    assert refusal_figures(wrong)["refusal_f1"] == 0.0
    empty = summarize([])
    assert (empty["questions"], empty["hit@1"], empty["p50_latency_ms"]) == (0, 0.0, None)


def test_the_report_prints_the_summary_figures() -> None:
    console = Console(record=True, width=400, color_system=None)
    rows = [{**r, "id": f"r{i}", "answer": ""} for i, r in enumerate(ROWS)]
    render_report(console, {"summary": summarize(rows), "questions": rows})
    out = console.export_text()
    assert "hit@1 0.25  hit@5 0.50  MRR 0.37" in out
    assert "refusal precision 0.50 recall 0.33 F1 0.40  false refusals 0.25" in out
    assert "keywords 2/3  citations 2/4" in out and "p50 30.0 ms" in out


def test_run_eval_over_the_small_corpus(small_service: Service, tmp_path: Path) -> None:
    path = write_questions(
        tmp_path / "q.jsonl",
        [
            # a follow-up listed before its parent: the parent is still asked first
            {"id": "f1", "question": "And what does it call for?", "followup_of": "r1"},
            {
                "id": "r1",
                "question": "When did the Security Council adopt resolution 1325?",
                "gold_doc": "beta.txt",
                "gold_quote": GOLD,
                "answer_keywords": ["October 2000"],
            },
            # the gold quote is in alpha.md: a gold_doc that disagrees means no retrieval hit
            {
                "id": "w1",
                "question": "How long does the alpha course run?",
                "gold_doc": "beta.txt",
                "gold_quote": "It runs for two weeks every spring.",
            },
            {"id": "u1", "question": "What is the capital of Mongolia?", "answerable": False},
        ],
    )
    report = run_eval(small_service, path)
    rows = {r["id"]: r for r in report["questions"]}
    assert list(rows) == ["f1", "r1", "w1", "u1"]  # the file's order
    assert rows["r1"]["gold_rank"] == 1 and rows["r1"]["cited_gold"]
    assert rows["r1"]["keywords_ok"] is True and not rows["r1"]["refused"]
    assert rows["w1"]["gold_rank"] is None and rows["w1"]["cited_gold"]
    assert rows["u1"]["refused"] and rows["u1"]["refusal_correct"]
    assert report["summary"] == summarize(report["questions"])
    assert report["summary"]["questions"] == 4 and report["summary"]["unanswerable"] == 1
