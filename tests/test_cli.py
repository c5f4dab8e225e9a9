"""The real console entry point in a subprocess: JSON contracts, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from assistant.service import sample_corpus_dir
from ingest.loaders import load_document
from tests.helpers import run_cli

REPORT_KEYS = {"added", "updated", "unchanged", "removed", "chunks", "failed"}
ANSWER_KEYS = {"answer", "refused", "citations"}
CITATION_KEYS = {"n", "doc_id", "title", "source", "location", "quote", "start", "end", "score"}
SAMPLE_IDS = sorted(p.name for p in sample_corpus_dir().iterdir())

pytestmark = pytest.mark.slow  # every test runs the CLI in a subprocess


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "course.md").write_text(
        "---\ntitle: Legal Course\n---\n# Course\n\nThe course trains military lawyers.\n",
        encoding="utf-8",
    )
    (folder / "notes.txt").write_text("Notes on resolution 1325 and its follow-ups.\n")
    (folder / "diagram.xyz").write_text("not a document")
    return folder


def test_ingest_json_report_and_incremental_rerun(tmp_path: Path, docs: Path) -> None:
    data = tmp_path / "data"
    missing = tmp_path / "missing.md"
    first = run_cli("ingest", str(docs), str(missing), "--json", data_dir=data, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) >= REPORT_KEYS
    assert (report["added"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert report["chunks"] == 2
    failed = {f["path"]: f["error"] for f in report["failed"]}
    assert all(set(f) == {"path", "error"} for f in report["failed"])
    assert failed[str(missing)] == "no such file or directory"
    assert failed[str(docs / "diagram.xyz")].startswith("unsupported file type '.xyz'")

    again = run_cli("ingest", str(docs), "--json", data_dir=data, cwd=tmp_path)
    rerun = json.loads(again.stdout)
    assert (rerun["added"], rerun["unchanged"], rerun["chunks"]) == (0, 2, 0)
    assert rerun["model_loaded"] is False  # nothing to embed, so the model never loaded


def test_ingest_of_nothing_loadable_fails(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = run_cli("ingest", str(missing), "--json", data_dir=tmp_path / "data", cwd=tmp_path)
    assert result.returncode != 0
    report = json.loads(result.stdout)
    assert report["failed"] == [{"path": str(missing), "error": "no such file or directory"}]
    assert report["added"] == report["chunks"] == 0


def test_ingest_human_output_summarises_the_run(tmp_path: Path, sample_copy: Path) -> None:
    result = run_cli("ingest", str(sample_corpus_dir()), data_dir=sample_copy, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"unchanged {len(SAMPLE_IDS)}" in result.stdout
    assert "not loaded" in result.stdout


def test_sources_json_lists_the_ingested_documents(tmp_path: Path, sample_copy: Path) -> None:
    result = run_cli("sources", "--json", data_dir=sample_copy, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sources = json.loads(result.stdout)
    assert [s["doc_id"] for s in sources] == SAMPLE_IDS
    by_id = {s["doc_id"]: s for s in sources}
    fact_sheet = by_id["wh-factsheet-crsv-sanctions-2023.md"]  # front matter: URL and date
    assert fact_sheet["source"].startswith("https://") and fact_sheet["date"].startswith("2023")
    assert fact_sheet["chunks"] > 0
    act = by_id["wps-act-22usc-2152j.md"]  # no front matter: the first heading and the path
    assert act["title"].startswith("Title 22") and act["source"].endswith(act["doc_id"])


def test_remove_deletes_a_document(tmp_path: Path, sample_copy: Path) -> None:
    doc_id = "wh-statement-crsv-sanctions-2023.md"
    result = run_cli("remove", doc_id, data_dir=sample_copy, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"removed {doc_id} (")
    after = json.loads(run_cli("sources", "--json", data_dir=sample_copy, cwd=tmp_path).stdout)
    assert [s["doc_id"] for s in after] == [d for d in SAMPLE_IDS if d != doc_id]
    again = run_cli("remove", doc_id, data_dir=sample_copy, cwd=tmp_path)
    assert doc_id in one_line_error(again)


def test_remove_unknown_id_is_a_one_line_error(tmp_path: Path, sample_copy: Path) -> None:
    result = run_cli("remove", "no-such-doc.md", data_dir=sample_copy, cwd=tmp_path)
    line = one_line_error(result)
    assert "no-such-doc.md" in line and "assistant sources" in line
    assert result.stdout == ""


@pytest.mark.parametrize("question", ["", "   "], ids=["empty", "blank"])
def test_ask_empty_question_is_a_one_line_error(
    tmp_path: Path, sample_copy: Path, question: str
) -> None:
    result = run_cli("ask", question, data_dir=sample_copy, cwd=tmp_path)
    assert "question is empty" in one_line_error(result)
    assert result.stdout == ""


def test_ask_k_out_of_range_is_a_usage_error(tmp_path: Path, sample_copy: Path) -> None:
    result = run_cli("ask", "What is WPS?", "-k", "0", data_dir=sample_copy, cwd=tmp_path)
    assert result.returncode == 2
    assert "-k" in one_line_error(result)


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("ASSISTANT_CHUNK_SIZE", "abc", "chunk_size"),
        ("ASSISTANT_CHUNK_SIZE", "10", "chunk_size"),
        ("ASSISTANT_CHUNK_OVERLAP", "900", "CHUNK_OVERLAP"),
        ("ASSISTANT_TOP_K", "0", "top_k"),
        ("ASSISTANT_CHROMA_URL", "ftp://example", "chroma_url"),
    ],
    ids=["size-not-int", "size-too-small", "overlap-too-big", "top-k", "chroma-url"],
)
def test_bad_setting_is_a_one_line_error(
    tmp_path: Path, variable: str, value: str, field: str
) -> None:
    result = run_cli("sources", data_dir=tmp_path / "data", cwd=tmp_path, **{variable: value})
    line = one_line_error(result)
    assert line.startswith("error: invalid setting") and field in line


def test_ask_json_on_an_empty_store_ingests_the_sample_first(tmp_path: Path) -> None:
    question = "What does the Women, Peace, and Security Act of 2017 require?"
    result = run_cli("ask", question, "--json", data_dir=tmp_path / "data", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ingesting the bundled sample corpus" in result.stderr
    assert f"Ingested {len(SAMPLE_IDS)} sample documents" in result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= ANSWER_KEYS
    assert isinstance(answer["answer"], str) and answer["answer"]
    # an answer cites passages; a refusal still lists the closest ones
    quoted = answer.get("passages", []) if answer["refused"] else answer["citations"]
    assert quoted
    texts: dict[str, str] = {}
    for citation in quoted:
        assert set(citation) == CITATION_KEYS
        if not answer["refused"]:
            assert f"[{citation['n']}]" in answer["answer"]
        doc_id = citation["doc_id"]
        if doc_id not in texts:
            texts[doc_id] = load_document(sample_corpus_dir() / doc_id, doc_id).text
        # the quote is verbatim and its offsets point at it in the normalised document
        assert texts[doc_id][citation["start"] : citation["end"]] == citation["quote"]
    sources = run_cli("sources", "--json", data_dir=tmp_path / "data", cwd=tmp_path)
    assert [s["doc_id"] for s in json.loads(sources.stdout)] == SAMPLE_IDS


SANCTIONS = "What sanctions did the United States announce for conflict-related sexual violence?"
SANCTIONS_DOC = "wh-factsheet-crsv-sanctions-2023.md"


def test_ask_within_a_document_shows_the_passage_opened(tmp_path: Path, sample_copy: Path) -> None:
    result = run_cli(
        "ask", SANCTIONS, "--doc", SANCTIONS_DOC, "--format", "json", "--open", "1",
        data_dir=sample_copy, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["refused"] is False
    assert {c["doc_id"] for c in answer["citations"]} == {SANCTIONS_DOC}
    assert answer["scope"]["matched"] == [SANCTIONS_DOC]
    opened, first = answer["opened"], answer["citations"][0]
    assert opened["quote"] == first["quote"] and first["quote"] in opened["text"]


def test_tags_scope_and_markdown_answers(tmp_path: Path, sample_copy: Path) -> None:
    tagged = run_cli("tag", SANCTIONS_DOC, "Sanctions", data_dir=sample_copy, cwd=tmp_path)
    assert tagged.returncode == 0, tagged.stderr
    listed = json.loads(run_cli("sources", "--tag", "sanctions", "--json", data_dir=sample_copy,
                            cwd=tmp_path).stdout)  # fmt: skip
    assert [s["doc_id"] for s in listed] == [SANCTIONS_DOC] and listed[0]["tags"] == ["sanctions"]
    result = run_cli(
        "ask", SANCTIONS, "--tag", "sanctions", "--format", "markdown",
        data_dir=sample_copy, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "\n> " in result.stdout and "> — https://" in result.stdout  # quote and its source
    missing = run_cli("ask", SANCTIONS, "--tag", "no-such-tag", data_dir=sample_copy, cwd=tmp_path)
    assert "no document has the tag 'no-such-tag'" in one_line_error(missing)


def test_chat_saves_and_resumes_a_conversation(tmp_path: Path, sample_copy: Path) -> None:
    act = "wps-act-22usc-2152j.md"
    talk = tmp_path / "talk.json"
    first = run_cli(
        "chat", "--doc", act, "--save", str(talk), data_dir=sample_copy, cwd=tmp_path,
        stdin="Who must make sure Department of Defense personnel get WPS training?\n",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    saved = json.loads(talk.read_text(encoding="utf-8"))
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    assert saved["scope"] == {"documents": [act], "tags": []}
    # resumed in its scope; the follow-up is read with the saved question
    second = run_cli(
        "chat", "--resume", str(talk), data_dir=sample_copy, cwd=tmp_path,
        stdin="Which bodies of law must that training cover?\n",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "Resumed 1 question" in second.stdout and "humanitarian law" in second.stdout
    assert len(json.loads(talk.read_text(encoding="utf-8"))["messages"]) == 4
    talk.write_text("[1, 2]")
    broken = run_cli("chat", "--resume", str(talk), data_dir=sample_copy, cwd=tmp_path, stdin="")
    assert "is not a conversation saved with" in one_line_error(broken)
