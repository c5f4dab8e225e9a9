"""A 50 MB text file ingests with bounded memory (peak RSS growth well under 12x its size).

A 50 MB text file is legitimate input under the 200 MB file limit, so it ingests: a user
would rather wait for it than be told to split it. The whole ingest (read, decode, chunk,
embed, write to Chroma) runs in a fresh subprocess so that ``ru_maxrss`` is its own; the
probe takes its baseline after imports, model load and a first small ingest. The encoder is a
tiny random-weight sentence-transformers model (see tiny_model.py): the bundled model would
need many minutes for the file's 6,700 chunks here, and memory does not depend on its weights.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.bad_inputs import big_text
from tests.reliability.tiny_model import write_tiny_model

REPO = Path(__file__).resolve().parents[2]
LIMIT_FACTOR = 12

pytestmark = pytest.mark.slow


def test_a_50_mb_text_file_ingests_within_12x_its_size(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "model")
    (tmp_path / "in").mkdir()
    big = big_text(tmp_path / "in")
    size = big.stat().st_size
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.memory_probe",
            str(big),
            str(tmp_path / "data"),
            str(model),
            "8000",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    report = probe["report"]
    assert (report["added"], report["failed"]) == (1, []), report
    assert probe["documents"] == ["big-50mb.txt", "warm.md"]
    assert probe["stored_chunks"] == probe["record_chunks"] > 6000
    growth_mb, size_mb = probe["growth"] / 2**20, size / 2**20
    print(f"\n50 MB ingest: peak RSS growth {growth_mb:.0f} MB ({growth_mb / size_mb:.1f}x)")
    assert probe["growth"] < LIMIT_FACTOR * size, f"{growth_mb:.0f} MB for a {size_mb:.0f} MB file"
