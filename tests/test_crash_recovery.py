"""SIGKILL an ingest midway, run it again, and get exactly what a clean ingest gives.

The ingest runs in a subprocess through the real CLI. Its progress is watched in Chroma's
SQLite file (read-only and lock-free, so the watcher can never make the writer wait or fail),
and the process is killed at a kill point: part-way through the first batch of chunk writes,
right at the end of that batch, and part-way through re-writing changed documents (new chunks
in, old ones not yet deleted). The next, normal ingest must then leave exactly the chunks,
vectors and document records of a clean ingest into a fresh store.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.service import sample_corpus_dir
from ingest.chunking import chunk_document
from ingest.embedding import Embedder
from ingest.loaders import load_document
from ingest.store import ChromaStore
from ingest.sync import IngestReport, discover, sync
from tests.helpers import clean_env

pytestmark = pytest.mark.slow

# Tiny chunks: a few hundred of them from little text, so embedding stays cheap while the
# ingest still needs two encoder batches (the CLI here flushes every 256 chunks).
CHUNK_SIZE = 100
CHUNK_OVERLAP = 20
FLUSH_AT = 256
N_FILES = 40
PARAGRAPH_CHARS = 220
PARAGRAPHS_PER_FILE = 3

_COUNTS = """
    SELECT c.name, COUNT(e.id) FROM collections c
    JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA'
    LEFT JOIN embeddings e ON e.segment_id = s.id
    GROUP BY c.name
"""


def _sample_paragraphs() -> list[str]:
    paragraphs = []
    for path in sorted(sample_corpus_dir().iterdir()):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            text = text.split("\n---\n", 1)[1]
        for para in re.split(r"\n\s*\n", text):
            para = " ".join(para.split())
            if len(para) > 120 and "<" not in para:
                paragraphs.append(para[:PARAGRAPH_CHARS].rsplit(" ", 1)[0] + ".")
    return paragraphs


def write_crash_corpus(root: Path) -> Path:
    """N_FILES distinct Markdown files built from rotating sample-corpus paragraphs."""
    paragraphs = _sample_paragraphs()
    root.mkdir(parents=True)
    for i in range(N_FILES):
        body = [paragraphs[(i * 7 + j * 13) % len(paragraphs)] for j in range(PARAGRAPHS_PER_FILE)]
        (root / f"variation-{i:02d}.md").write_text(
            f"# Variation {i}\n\nThis is variation number {i} of the test corpus.\n\n"
            + "\n\n".join(body)
            + "\n",
            encoding="utf-8",
        )
    return root


def counts(data_dir: Path) -> tuple[int, int]:
    """(chunks, document records) as committed so far; (-1, -1) while unreadable."""
    db = data_dir / "chroma" / "chroma.sqlite3"
    if not db.exists():
        return -1, -1
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        try:
            rows = dict(con.execute(_COUNTS).fetchall())
        finally:
            con.close()
    except sqlite3.DatabaseError:  # caught mid-write: try again on the next poll
        return -1, -1
    return rows.get("documents_chunks", -1), rows.get("documents_docs", -1)


def write_ops(data_dir: Path) -> int:
    """Chroma's write sequence number: grows with every chunk or record written or deleted."""
    db = data_dir / "chroma" / "chroma.sqlite3"
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        try:
            row = con.execute(
                "SELECT MAX(s) FROM (SELECT MAX(seq_id) AS s FROM embeddings_queue"
                " UNION ALL SELECT MAX(seq_id) FROM max_seq_id)"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return -1
    return int(row[0] or 0)


def cli_env(data_dir: Path) -> dict[str, str]:
    return clean_env(
        ASSISTANT_DATA_DIR=str(data_dir),
        ASSISTANT_CHUNK_SIZE=str(CHUNK_SIZE),
        ASSISTANT_CHUNK_OVERLAP=str(CHUNK_OVERLAP),
        ASSISTANT_INGEST_BATCH=str(FLUSH_AT),
    )


def ingest_cmd(corpus: Path) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "ingest", str(corpus), "--json"]


def ingest_and_kill(corpus: Path, data_dir: Path, reached: Callable[[], bool]) -> None:
    """Run the CLI ingest and SIGKILL it as soon as ``reached()`` is true."""
    proc = subprocess.Popen(
        ingest_cmd(corpus),
        env=cli_env(data_dir),
        cwd=data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if reached():
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (
        f"the ingest ended ({proc.returncode}) before the kill point: {stderr[-500:]!r}"
    )


def resume(corpus: Path, data_dir: Path, embedder: Embedder) -> IngestReport:
    """The next run: a normal ingest with the same settings (in-process, to spare a start-up)."""
    store = ChromaStore(path=data_dir / "chroma")
    report = sync([corpus], store, embedder, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    assert report.failed == []
    return report


Snapshot = tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]


def store_snapshot(store: ChromaStore) -> Snapshot:
    """Chunks (id -> everything stored), records (minus the time) and vectors."""
    stored = list(store.iter_chunks_with_vectors())
    chunks = {c.chunk_id: asdict(c) for c, _, _ in stored}
    records = {}
    for doc_id, record in store.doc_records().items():
        fields = asdict(record)
        del fields["ingested_at"], fields["changed_at"]  # clock times
        records[doc_id] = fields
    vectors = {c.chunk_id: vector for c, vector, _ in stored}
    return chunks, records, vectors


def snapshot(data_dir: Path) -> Snapshot:
    """The store's snapshot, after checking that the vector index holds every chunk too, not
    only the metadata table."""
    store = ChromaStore(path=data_dir / "chroma")
    chunks, records, vectors = store_snapshot(store)
    ids = sorted(chunks)
    found = {cid for cid, _ in store.nearest_ids(vectors[ids[0]], len(ids))}
    assert found == set(ids), f"{len(set(ids) - found)} chunks missing from the vector index"
    return chunks, records, vectors


@pytest.fixture(scope="module")
def crash_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_crash_corpus(tmp_path_factory.mktemp("crash") / "corpus")


@pytest.fixture(scope="module")
def clean(
    crash_corpus: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """A clean, uninterrupted ingest of the same corpus into a fresh store."""
    data_dir = tmp_path_factory.mktemp("clean")
    store = ChromaStore(path=data_dir / "chroma")
    report = sync(
        [crash_corpus], store, embedder, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
    )
    assert report.added == N_FILES and not report.failed
    return snapshot(data_dir)


def _batches(corpus: Path) -> tuple[int, int]:
    """Chunks in the writer's first flush (documents go in order) and in all."""
    sources, _ = discover([corpus])
    sizes = [
        len(chunk_document(load_document(s.path, s.doc_id), CHUNK_SIZE, CHUNK_OVERLAP))
        for s in sources
    ]
    running = np.cumsum(sizes)
    return int(running[np.argmax(running >= FLUSH_AT)]), int(running[-1])


def test_corpus_needs_two_encoder_batches(crash_corpus: Path, clean: Any) -> None:
    chunks, records, _ = clean
    first, total = _batches(crash_corpus)
    assert len(records) == N_FILES and len(chunks) == total
    assert FLUSH_AT <= first < total - 50, "the second batch spans several documents"


KILL_POINTS = {
    "mid-first-batch": lambda first, total: first // 2,
    "after-first-batch": lambda first, total: first,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_first_ingest_is_completed_by_the_next_run(
    crash_corpus: Path, clean: Any, tmp_path: Path, embedder: Embedder, point: str
) -> None:
    clean_chunks, clean_records, clean_vectors = clean
    target = KILL_POINTS[point](*_batches(crash_corpus))
    assert 0 < target < len(clean_chunks)
    data_dir = tmp_path / "data"
    ingest_and_kill(crash_corpus, data_dir, lambda: counts(data_dir)[0] >= target)
    killed_chunks, killed_docs = counts(data_dir)
    assert target <= killed_chunks and killed_docs < N_FILES, "killed with work left to do"

    report = resume(crash_corpus, data_dir, embedder)
    # exactly the documents without a record are redone; finished ones cost nothing
    assert (report.added, report.unchanged) == (N_FILES - killed_docs, killed_docs)

    chunks, records, vectors = snapshot(data_dir)
    assert records == clean_records
    assert chunks.keys() == clean_chunks.keys(), "no duplicates, no orphans"
    assert chunks == clean_chunks
    for chunk_id, vector in vectors.items():
        np.testing.assert_allclose(vector, clean_vectors[chunk_id], atol=1e-3)


def test_killed_update_is_completed_by_the_next_run(
    crash_corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """Killed while changed documents have new chunks written and old ones not yet deleted."""
    n_files = N_FILES // 2  # half the corpus will do, and takes half the time
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted(crash_corpus.iterdir())[:n_files]:
        shutil.copy2(path, corpus / path.name)
    data_dir = tmp_path / "data"
    resume(corpus, data_dir, embedder)  # the corpus as it was
    changed = sorted(corpus.iterdir())[::2]
    for path in changed:
        text = path.read_text(encoding="utf-8").replace("variation number", "revised variation")
        path.write_text(text + "\nA paragraph added in the revision.\n", encoding="utf-8")
    resume(corpus, tmp_path / "clean", embedder)  # a clean ingest of the changed corpus
    expected = snapshot(tmp_path / "clean")

    start = write_ops(data_dir)
    # an update drops the record, writes the new chunks, deletes the old ones and writes the
    # record: about 2 operations per chunk; kill about half-way through
    names = {path.name for path in changed}
    ops = sum(r["chunks"] for r in expected[1].values() if Path(r["path"]).name in names)
    ingest_and_kill(corpus, data_dir, lambda: write_ops(data_dir) >= start + ops)

    report = resume(corpus, data_dir, embedder)
    redone = report.added + report.updated
    # the writer drops the records of a batch's changed documents, then writes their chunks:
    # only those (at most every changed document) are redone; the rest cost nothing
    assert 0 < redone <= len(changed) and redone + report.unchanged == n_files
    chunks, records, vectors = snapshot(data_dir)
    assert records == expected[1]
    assert chunks.keys() == expected[0].keys(), "no stale chunks, no duplicates"
    assert chunks == expected[0]
    for chunk_id, vector in vectors.items():
        np.testing.assert_allclose(vector, expected[2][chunk_id], atol=1e-3)
