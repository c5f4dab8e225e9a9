"""SIGKILL at seeded random points of an ingest, and a Chroma server killed mid-ingest.

Part 1: the CLI ingest is killed at a random Chroma write (a first ingest or an update of
changed files); the next, normal run must leave exactly the chunks, vectors and records of a
clean ingest. Part 2: in server mode (ASSISTANT_CHROMA_URL) the Chroma server is killed while
the CLI writes: the ingest must stop with a one-line error, and after the server is restarted
the next run completes to the clean state.

The encoder is the tiny model of tiny_model.py: every trial starts a CLI process and
re-embeds a corpus, which with the bundled model would take minutes per trial here; what is
compared (ids, texts, metadata, vectors against a clean run with the same model) does not
depend on which model it is.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.embedding import Embedder
from ingest.store import ChromaStore
from ingest.sync import sync
from tests.api.live import CHROMA, start_chroma
from tests.helpers import clean_env
from tests.reliability.checks import assert_consistent
from tests.reliability.servers import restart
from tests.reliability.tiny_model import write_tiny_model
from tests.test_crash_recovery import Snapshot, store_snapshot, write_crash_corpus, write_ops

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

CHUNK_SIZE = 100
CHUNK_OVERLAP = 20
SEED = 20260611
TRIALS = 10
SERVER_TRIALS = 3


@dataclass
class Setup:
    model: Path
    embedder: Embedder
    corpus: Path  # the corpus as first ingested
    changed: Path  # the same corpus with every other file edited
    before: Path  # a data dir holding a clean ingest of ``corpus``
    clean_first: Snapshot
    clean_update: Snapshot
    first_ops: int  # Chroma writes of a first ingest
    update_ops: int  # and of the update from ``corpus`` to ``changed``


def assert_same(got: Snapshot, expected: Snapshot) -> None:
    chunks, records, vectors = got
    assert records == expected[1]
    assert chunks.keys() == expected[0].keys(), "no duplicates, no orphans"
    assert chunks == expected[0]
    for chunk_id, vector in vectors.items():
        np.testing.assert_allclose(vector, expected[2][chunk_id], atol=1e-5)


def ingest(corpus: Path, store: ChromaStore, embedder: Embedder) -> None:
    report = sync([corpus], store, embedder, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    assert report.failed == []


def edit(corpus: Path) -> None:
    for path in sorted(corpus.iterdir())[::2]:
        text = path.read_text(encoding="utf-8").replace("variation number", "revised variation")
        path.write_text(text + "\nA paragraph added in the revision.\n", encoding="utf-8")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("crash")
    model = write_tiny_model(root / "model")
    embedder = Embedder(str(model))
    corpus = write_crash_corpus(root / "corpus")
    changed = root / "changed"
    shutil.copytree(corpus, changed)
    edit(changed)
    ingest(corpus, ChromaStore(path=root / "before" / "chroma"), embedder)
    first_ops = write_ops(root / "before")
    clean_first = store_snapshot(ChromaStore(path=root / "before" / "chroma"))
    shutil.copytree(root / "before", root / "updated")
    ingest(changed, ChromaStore(path=root / "updated" / "chroma"), embedder)
    update_ops = write_ops(root / "updated") - first_ops
    clean_update = store_snapshot(ChromaStore(path=root / "updated" / "chroma"))
    return Setup(
        model,
        embedder,
        corpus,
        changed,
        root / "before",
        clean_first,
        clean_update,
        first_ops,
        update_ops,
    )


def cli_env(setup: Setup, **settings: str) -> dict[str, str]:
    return clean_env(
        ASSISTANT_CHUNK_SIZE=str(CHUNK_SIZE),
        ASSISTANT_CHUNK_OVERLAP=str(CHUNK_OVERLAP),
        ASSISTANT_EMBEDDING_MODEL=str(setup.model),
        **settings,
    )


class ForkServer:
    """tests/reliability/forkserver.py: forks real CLI runs without re-importing torch."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.forkserver"],
            cwd=REPO,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert "ready" in self._read()
        self.runs = 0

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the fork server died"
        return dict(json.loads(line))

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def ingest(self, corpus: Path, env: dict[str, str]) -> Run:
        self.runs += 1
        stderr, done = self.workdir / f"run-{self.runs}.err", self.workdir / f"run-{self.runs}.done"
        argv = ["ingest", str(corpus), "--json"]
        request = {"run": argv, "env": env, "cwd": str(self.workdir), "stderr": str(stderr)}
        pid = self._ask({**request, "done": str(done)})["pid"]
        return Run(self, int(pid), stderr, done)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class Run:
    server: ForkServer
    pid: int
    stderr_file: Path
    done: Path

    def running(self) -> bool:
        return not self.done.exists()

    def wait(self) -> int:
        """The exit code, or -N when ended by signal N (reaps the process)."""
        return int(self.server._ask({"wait": self.pid})["status"])

    @property
    def stderr(self) -> str:
        return self.stderr_file.read_text(errors="replace")


@pytest.fixture(scope="module")
def forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("forks"))
    yield server
    server.close()


def wrote(data_dir: Path, target: int) -> bool:
    return write_ops(data_dir) >= target


def kill_when(run: Run, victim: int, reached: Callable[[], bool], timeout: float = 180) -> bool:
    """SIGKILL ``victim`` as soon as ``reached()``; False if the run ended first."""
    deadline = time.monotonic() + timeout
    while run.running() and time.monotonic() < deadline:
        if reached():
            os.kill(victim, signal.SIGKILL)
            return True
        time.sleep(0.003)
    if run.running():
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        raise AssertionError("the ingest neither finished nor reached the kill point")
    return False


# -- part 1: SIGKILL the ingest ---------------------------------------------------------------
def plan() -> list[tuple[str, float]]:
    """(scenario, fraction of its Chroma writes after which to kill), seeded."""
    rng = random.Random(SEED)
    return [(rng.choice(["first", "update"]), rng.uniform(0.02, 0.98)) for _ in range(TRIALS)]


def test_sigkill_at_random_writes_then_a_normal_run_gives_the_clean_store(
    setup: Setup, forks: ForkServer, tmp_path: Path
) -> None:
    outcomes = []
    for trial, (scenario, fraction) in enumerate(plan()):
        data_dir = tmp_path / f"trial-{trial}"
        if scenario == "first":
            corpus, total, expected, start = setup.corpus, setup.first_ops, setup.clean_first, 0
        else:
            shutil.copytree(setup.before, data_dir)
            corpus, total, expected = setup.changed, setup.update_ops, setup.clean_update
            start = write_ops(data_dir)
        target = start + max(1, int(total * fraction))
        env = cli_env(setup, ASSISTANT_DATA_DIR=str(data_dir))
        run = forks.ingest(corpus, env)
        killed = kill_when(run, run.pid, functools.partial(wrote, data_dir, target))
        status = run.wait()
        assert status == (-signal.SIGKILL if killed else 0), run.stderr[-2000:]
        done = write_ops(data_dir) - start
        outcomes.append((scenario, f"{done}/{total}", killed))

        store = ChromaStore(path=data_dir / "chroma")
        ingest(corpus, store, setup.embedder)  # the next, normal run
        assert_consistent(store)
        assert_same(store_snapshot(store), expected)
    print(f"\nkill trials (scenario, writes done/total, killed mid-ingest): {outcomes}")
    assert sum(killed for *_, killed in outcomes) >= TRIALS - 2, outcomes


# -- part 2: kill the Chroma server ---------------------------------------------------------
def test_chroma_server_killed_mid_ingest_fails_cleanly_and_the_next_run_completes(
    setup: Setup, forks: ForkServer, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    for trial in range(SERVER_TRIALS):
        data_dir = tmp_path / f"server-{trial}"  # the server keeps its files in data_dir/chroma
        chroma = start_chroma(data_dir / "chroma", tmp_path / f"run-{trial}")
        assert chroma.args[0] == CHROMA
        env = cli_env(
            setup,
            ASSISTANT_DATA_DIR=str(tmp_path / f"client-{trial}"),
            ASSISTANT_CHROMA_URL=chroma.url,
        )
        target = max(1, int(setup.first_ops * rng.uniform(0.1, 0.9)))
        run = forks.ingest(setup.corpus, env)
        try:
            reached = functools.partial(wrote, data_dir, target)
            killed = kill_when(run, chroma.proc.pid, reached)
            assert killed, "the ingest finished before the server was killed"
            status = run.wait()
        finally:
            chroma.stop()
        stderr = run.stderr
        lines = stderr.strip().splitlines()
        assert status == 1, stderr[-2000:]
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-2000:]
        assert "Chroma server" in lines[0] and "Traceback" not in stderr

        chroma = restart(chroma)
        try:
            rerun = forks.ingest(setup.corpus, env)
            assert rerun.wait() == 0, rerun.stderr[-2000:]
            store = ChromaStore(url=chroma.url)
            assert_consistent(store)
            assert_same(store_snapshot(store), setup.clean_first)
        finally:
            chroma.stop()
