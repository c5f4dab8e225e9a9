"""CLI failure modes: a bad question fails before any work, a closed pipe ends quietly, and
an unusable embedding model is a one-line error (CLI) or a JSON error (HTTP), never a trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import Service
from tests.conftest import make_settings
from tests.helpers import clean_env, run_cli

pytestmark = pytest.mark.slow

BAD_MODEL = "/nonexistent/embedding-model"


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error: ` line, last on stderr (a progress note such as "The store is empty:
    ingesting the sample..." may come before it); no traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "the question is empty"), ("x" * 5000, "limit")],
    ids=["empty", "too-long"],
)
def test_a_bad_question_on_an_empty_store_fails_before_ingesting_anything(
    tmp_path: Path, question: str, message: str
) -> None:
    data_dir = tmp_path / "data"
    result = run_cli("ask", question, data_dir=data_dir, cwd=tmp_path)
    assert message in one_line_error(result)
    assert not (data_dir / "chroma").exists(), "the sample corpus was ingested first"


def run_into_closed_pipe(*args: str, data_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Like `assistant ... | head -0`: the reader has gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "assistant.cli", *args],
            env=clean_env(ASSISTANT_DATA_DIR=str(data_dir)),
            cwd=cwd,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [("sources",), ("sources", "--json")],
    ids=["rich-output", "plain-output"],
)
def test_a_closed_pipe_ends_quietly(tmp_path: Path, sample_copy: Path, args: tuple[str]) -> None:
    result = run_into_closed_pipe(*args, data_dir=sample_copy, cwd=tmp_path)
    assert result.stderr == "", result.stderr[-2000:]
    assert result.returncode == 1  # quietly: Python's recipe for EPIPE, and rich's


def test_a_bad_embedding_model_is_a_one_line_error_on_ask(tmp_path: Path) -> None:
    """An empty store: `ask` ingests the sample first, and that is where the model fails."""
    result = run_cli(
        "ask",
        "What does the WPS Act require?",
        data_dir=tmp_path / "data",
        cwd=tmp_path,
        ASSISTANT_EMBEDDING_MODEL=BAD_MODEL,
    )
    line = one_line_error(result)
    assert f"cannot load the embedding model '{BAD_MODEL}'" in line
    assert "ASSISTANT_EMBEDDING_MODEL" in line


def test_a_bad_embedding_model_stops_serve_at_start_up(tmp_path: Path, sample_copy: Path) -> None:
    """A store with documents: nothing to ingest, so the model fails in serve's warm-up."""
    result = run_cli(
        "serve",
        "--port",
        "1",  # never bound: the model check comes first
        data_dir=sample_copy,
        cwd=tmp_path,
        ASSISTANT_EMBEDDING_MODEL=BAD_MODEL,
    )
    line = one_line_error(result)
    assert f"cannot load the embedding model '{BAD_MODEL}'" in line


def test_a_bad_embedding_model_is_a_json_error_over_http(sample_copy: Path) -> None:
    settings = make_settings(sample_copy, embedding_model=BAD_MODEL)
    with TestClient(create_app(Service(settings))) as client:
        for path, body in [
            ("/api/ask", {"question": "What does the WPS Act require?"}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "WPS Act?"}]}),
        ]:
            response = client.post(path, json=body)
            assert response.status_code == 500, response.text
            error = response.json()["error"]
            assert "cannot load the embedding model" in error["message"]
            assert "Traceback" not in response.text and ".py" not in response.text
