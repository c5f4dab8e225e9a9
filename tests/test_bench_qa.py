"""bench/qa.py: its metrics on hand-made records, and one end-to-end run on a tiny SQuAD file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import clean_env

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "qa.py"
FIXTURE = REPO / "tests" / "data" / "squad-mini.json"  # 2 invented articles, 8 questions
RATIOS = [
    "answer_recall",
    "answered_precision",
    "refusal_precision",
    "refusal_recall",
    "refusal_f1",
    "false_refusal_rate",
]
COUNTS = ["questions", "answerable", "unanswerable", "errors", "unanswerable_answered"]
FIELDS = {*RATIOS, *COUNTS, "sentences_per_answer", "latency_ms", "ingest_s"}


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_qa", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


qa = load_bench()


def record(answerable: bool, refused: bool, quotes: list[str], gold: list[str], ms: float) -> dict:
    return {
        "answerable": answerable,
        "refused": refused,
        "quotes": quotes,
        "hit": answerable and not refused and qa.is_hit(gold, quotes),
        "latency_ms": ms,
    }


def test_score_on_hand_made_records() -> None:
    records = [
        # answerable, answered, gold in the second quote (case and spacing differ): a hit
        record(
            True, False, ["No.", "It was built  by TOBIAS\nWrenfield."], ["Tobias Wrenfield"], 10
        ),
        # answerable, answered, gold not quoted: no hit
        record(True, False, ["The tower is red."], ["1847"], 20),
        # answerable, refused: a false refusal
        record(True, True, [], ["walnut oil"], 30),
        # unanswerable, refused: a correct refusal
        record(False, True, [], [], 40),
        # unanswerable, answered with three sentences
        record(False, False, ["a", "b", "c"], [], 50),
    ]
    assert [r["hit"] for r in records] == [True, False, False, False, False]
    result = qa.score(records)
    assert result["questions"] == 5
    assert result["answerable"] == 3
    assert result["unanswerable"] == 2
    assert result["answer_recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["answered_precision"] == pytest.approx(1 / 2)
    assert result["refusal_precision"] == pytest.approx(1 / 2)  # 1 of the 2 refusals
    assert result["refusal_recall"] == pytest.approx(1 / 2)  # 1 of the 2 unanswerable
    assert result["refusal_f1"] == pytest.approx(1 / 2)
    assert result["false_refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["unanswerable_answered"] == 1
    assert result["sentences_per_answer"] == pytest.approx(6 / 3)  # 2 + 1 + 3 citations
    assert result["latency_ms"] == {"p50": 30.0, "p95": 48.0}


def test_score_without_denominators() -> None:
    empty = qa.score([])
    assert empty["questions"] == 0
    assert all(empty[name] is None for name in [*RATIOS, "sentences_per_answer"])
    assert empty["latency_ms"] == {"p50": None, "p95": None}
    # nothing refused: refusal precision undefined, recall 0, so F1 undefined too
    answered = qa.score([record(False, False, ["x"], [], 5)])
    assert answered["refusal_precision"] is None
    assert answered["refusal_recall"] == 0.0
    assert answered["refusal_f1"] is None
    # refusals, none of them right: precision and recall 0, F1 0 (not a division by zero)
    wrong = qa.score([record(True, True, [], ["a"], 5), record(False, False, ["x"], [], 5)])
    assert wrong["refusal_precision"] == 0.0
    assert wrong["refusal_f1"] == 0.0


def test_article_titles_with_commas() -> None:
    known = {"Normans", "Jacksonville,_Florida", "Pharmacy"}
    assert qa.split_titles("Normans,Jacksonville,_Florida,Pharmacy", known) == [
        "Normans",
        "Jacksonville,_Florida",
        "Pharmacy",
    ]
    assert qa.split_titles("Jacksonville,_Florida", known) == ["Jacksonville,_Florida"]
    with pytest.raises(ValueError, match="available: Jacksonville,_Florida, Normans, Pharmacy"):
        qa.split_titles("Normans,Jacksonville", known)


def test_articles_become_markdown_documents(tmp_path: Path) -> None:
    articles = qa.read_squad(FIXTURE)
    (tmp_path / "Old_article.md").write_text("# gone\n")
    paths = qa.articles_to_docs(articles, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Fenwick_cheese.md",
        "Korvenna_Lighthouse.md",
    ]
    text = paths["Korvenna_Lighthouse"].read_text(encoding="utf-8")
    first, *paragraphs = text.rstrip("\n").split("\n\n")
    assert first == "# Korvenna Lighthouse"
    assert paragraphs == [p["context"] for p in articles[0]["paragraphs"]]


@pytest.mark.slow
def test_end_to_end_json_and_dump(tmp_path: Path) -> None:
    dump = tmp_path / "out.jsonl"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(FIXTURE), "--json"]
        + ["--data-dir", str(tmp_path / "data"), "--dump", str(dump)],
        cwd=tmp_path,  # no stray .env file is read
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ingest: 2 added" in result.stderr
    metrics = json.loads(result.stdout)
    assert set(metrics) == FIELDS
    assert (metrics["questions"], metrics["answerable"], metrics["unanswerable"]) == (8, 5, 3)
    assert metrics["errors"] == 0
    for name in RATIOS:
        assert metrics[name] is not None and 0.0 <= metrics[name] <= 1.0, name
    assert 0 <= metrics["unanswerable_answered"] <= 3
    assert metrics["answer_recall"] > 0  # some gold answer was cited
    assert metrics["latency_ms"]["p50"] <= metrics["latency_ms"]["p95"]
    assert metrics["ingest_s"] > 0
    lines = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 8
    assert {"id", "article", "question", "answerable", "refused", "gold", "quotes", "hit"} <= set(
        lines[0]
    )
    assert any(line["hit"] for line in lines)
    assert sum(line["hit"] for line in lines) / 5 == pytest.approx(metrics["answer_recall"])
