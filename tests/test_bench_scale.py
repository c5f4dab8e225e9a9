"""bench/scale.py end to end at a tiny size: every figure is in its JSON, no server is left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import clean_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "scale.py"
LATENCY = {"asks", "p50_ms", "p95_ms", "max_ms"}
START = {"health_s", "first_answer_s", "first_answer_ms", "first_answer_refused", "index_ready_s"}
FIGURES: dict[str, set[str]] = {
    "encoder": {
        "texts",
        "mean_chars",
        "batch_size",
        "wall_s",
        "chunks_per_s",
        "rounds_chunks_per_s",
    },
    "ingest": {
        "added",
        "chunks",
        "chunks_per_doc",
        "wall_s",
        "startup_s",
        "chunks_per_s",
        "chunks_per_s_net",
        "ratio",
        "ratio_net",
    },
    "start": START,
    "data": {
        "chunks_in_store",
        "bytes_after_ingest",
        "bytes_after_start",
        "kb_per_chunk_after_ingest",
        "kb_per_chunk",
        "chroma_bytes",
    },
    "steady": {*LATENCY, "errors", "answered"},
    "upload": {"doc_id", "upload_s", "cited_s", "retrieved_s", "before", "during"},
    "replica": {*START, "doc_id", "upload_s", "cited_s", "retrieved_s", "before", "during"},
    "rss_mb": {
        "serve_started",
        "serve_steady",
        "serve_after_upload",
        "serve_peak",
        "replica_started",
        "replica_end",
        "replica_peak",
        "chroma_end",
    },
}


def processes_in(folder: Path) -> list[str]:
    """Processes whose working directory or command line is inside ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if cwd.startswith(str(folder)) or str(folder) in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def test_tiny_run_reports_every_figure(tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--docs", "30", "--questions", "10", "--json"]
        + ["--work", str(work)],
        cwd=tmp_path,  # no stray .env file is read
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert figures["docs"] == 30
    for section, names in FIGURES.items():
        assert set(figures[section]) == names, section
        for name in names:
            assert figures[section][name] is not None, f"{section}.{name}"
    assert figures["ingest"]["added"] == 30
    assert figures["data"]["chunks_in_store"] == figures["ingest"]["chunks"] + 1  # + the probe
    assert 2.5 <= figures["ingest"]["chunks_per_doc"] <= 4.0
    assert max(figures["encoder"]["rounds_chunks_per_s"]) == figures["encoder"]["chunks_per_s"]
    assert figures["steady"]["asks"] == 10 and figures["steady"]["errors"] == 0
    for part in ("upload", "replica"):
        for window in ("before", "during"):
            latency = figures[part][window]
            assert set(latency) >= LATENCY and latency["asks"] > 0, (part, window)
            assert latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"]
        assert figures[part]["during"]["errors"] == 0
    # the uploads were found where they were asked about: the same process, then the replica
    assert 0 < figures["upload"]["retrieved_s"] <= figures["upload"]["cited_s"]
    assert 0 < figures["replica"]["retrieved_s"] <= figures["replica"]["cited_s"]
    mem = figures["rss_mb"]
    assert 0 < mem["serve_started"] <= mem["serve_peak"]
    assert 0 < mem["replica_end"] <= mem["replica_peak"]
    assert "assistant serve: until its first answer" in result.stderr  # progress on stderr
    assert (work / "logs" / "serve-1.log").exists()  # --work is kept
    assert processes_in(work) == []  # the Chroma server and both serve processes are stopped
