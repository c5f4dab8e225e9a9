"""bench/load.py in a short bounded form: concurrent questions while documents come and go,
with zero errors and no citation of a document that did not exist during its request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_short_load_run_has_no_errors_and_no_stale_citations(sample_data_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "load.py"),
            "--seconds",
            "10",
            "--clients",
            "4",
            "--data-dir",
            str(sample_data_dir),  # copied by the script; the session's store stays as it is
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    figures = json.loads(result.stdout)
    print(f"\nload: {figures}")
    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["stale_citations"] == 0, figures["stale_samples"]
    assert result.returncode == 0
    assert figures["requests"] >= 20 and figures["uploads"] >= 2 and figures["deletes"] >= 2
    assert figures["citations"] > 0
