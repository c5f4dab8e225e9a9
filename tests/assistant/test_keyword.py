"""The keyword index (assistant.keyword): SQLite FTS5 on disk, changed document by document.

Over a real Chroma store and the real model: an index kept current through adds, updates and
removals scores exactly like one built from scratch; its BM25 is the formula it documents; a
question is answered while a write is open; a SIGKILL in the middle of a write leaves an index
that finishes itself and then equals a clean build; a server's first build runs in the
background while retrieval answers dense-only.
"""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from assistant.keyword import KeywordIndex
from assistant.service import Service
from assistant.text import tokens
from ingest.embedding import Embedder
from ingest.sync import embed_text
from tests.conftest import make_settings
from tests.helpers import clean_env

QUERIES = [
    "ferry to the island",
    "lighthouse keeper boat",
    "harbour crane containers",
    "tide tables for the estuary",
    "noon departure",
]


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def fresh(service: Service, folder: Path) -> KeywordIndex:
    """An index of the same store, built from nothing."""
    index = KeywordIndex(service.store, folder, k1=0.9, b=0.4, context=1)
    index.build()
    return index


def same(a: KeywordIndex, b: KeywordIndex) -> None:
    assert a.size == b.size
    for query in QUERIES:
        got, best = a.search(query, 10)
        want, best_want = b.search(query, 10)
        assert got.keys() == want.keys(), query
        for cid in got:
            assert got[cid] == pytest.approx(want[cid], rel=1e-9), query
        assert best == pytest.approx(best_want, rel=1e-9)
    for term in ("ferri", "island", "lighthous", "crane", "unseen"):
        assert a.idf(term) == pytest.approx(b.idf(term))


def test_an_index_kept_current_scores_like_a_fresh_build(
    tmp_path: Path, embedder: Embedder
) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.md", "# A\n\nThe ferry to the island leaves at noon. The ferry is slow.\n")
    write(docs, "b.md", "# B\n\nThe lighthouse keeper rows a small boat to the island.\n")
    write(docs, "c.md", "# C\n\nThe harbour crane lifted forty containers before noon.\n")
    service = Service(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest([docs])
    assert service.keyword.ready and service.keyword.size == 3
    same(service.keyword, fresh(service, tmp_path / "fresh1"))

    write(docs, "b.md", "# B\n\nThe lighthouse keeper reads the tide tables for the estuary.\n")
    write(docs, "d.md", "# D\n\n" + "The estuary ferry waits for the tide. " * 60 + "\n")
    service.ingest([docs])
    service.remove("c.md")
    assert service.keyword.size > 3
    same(service.keyword, fresh(service, tmp_path / "fresh2"))
    hits, _ = service.keyword.search("harbour crane containers", 5)
    assert not hits  # the removed document is gone from the index too


def test_bm25_is_the_documented_formula(tmp_path: Path, embedder: Embedder) -> None:
    texts = {
        "one.md": "Rivers carry silt. Rivers flood.",
        "two.md": "Silt settles where rivers slow down near the delta.",
        "three.md": "The delta is wide.",
    }
    docs = tmp_path / "docs"
    for name, text in texts.items():
        write(docs, name, text + "\n")
    settings = make_settings(tmp_path / "data", bm25_context=0)
    service = Service(settings, embedder=embedder)
    service.ingest([docs])
    index = service.keyword
    chunks = {c.doc_id: c for c in service.store.iter_chunks()}
    bodies = {d: tokens(embed_text(c.title, c.location, c.text)) for d, c in chunks.items()}
    n, avg = len(bodies), sum(map(len, bodies.values())) / len(bodies)
    terms = tokens("rivers silt delta")
    expected = {}
    for doc_id, body in bodies.items():
        counts = Counter(body)
        norm = settings.bm25_k1 * (1 - settings.bm25_b + settings.bm25_b * len(body) / avg)
        score = 0.0
        for t in terms:
            df = sum(t in b for b in bodies.values())
            if counts[t]:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * counts[t] / (counts[t] + norm)
        expected[chunks[doc_id].chunk_id] = score
    got, best = index.search("rivers silt delta", 10)
    assert got.keys() == {cid for cid, s in expected.items() if s > 0}
    for cid, score in got.items():
        assert score == pytest.approx(expected[cid], rel=1e-9)
    assert best == pytest.approx(max(expected.values()))
    # the answerer's idf counts chunks, each by its own words
    df_silt = sum("silt" in b for b in bodies.values())
    assert index.idf("silt") == pytest.approx(math.log(1 + (n - df_silt + 0.5) / (df_silt + 0.5)))


def test_a_question_is_answered_while_a_write_is_open(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    write(docs, "a.md", "# A\n\nThe ferry to the island leaves at noon.\n")
    service = Service(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest([docs])
    before, _ = service.keyword.search("ferry island", 5)
    assert service.keyword.path is not None
    writer = sqlite3.connect(service.keyword.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # what an apply holds while it writes
    writer.execute("DELETE FROM chunks")
    answered: list[float] = []

    def ask() -> None:
        started = time.perf_counter()
        got, _ = service.keyword.search("ferry island", 5)
        assert got == before  # the committed state: the open write is not seen half-way
        answered.append(time.perf_counter() - started)

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join(timeout=10)
    writer.execute("ROLLBACK")
    writer.close()
    assert answered and answered[0] < 1.0


_SLOW_BUILD = """
import sys, time
from pathlib import Path
import assistant.keyword as keyword
from assistant.service import Service
from tests.conftest import make_settings
keyword.BATCH_DOCS = 3
insert = keyword.KeywordIndex._insert
def slow(self, conn, record, chunks):
    insert(self, conn, record, chunks)
    print("inserted", flush=True)
    time.sleep(0.2)
keyword.KeywordIndex._insert = slow
service = Service(make_settings(Path(sys.argv[1])))
print("building", flush=True)
service.keyword.build()
print("built", flush=True)
"""


def test_a_sigkill_during_a_keyword_index_write_leaves_it_consistent(
    sample_copy: Path, embedder: Embedder, tmp_path: Path
) -> None:
    for old in (sample_copy / "keyword").glob("*"):
        old.unlink()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_BUILD, str(sample_copy)],
        cwd=Path(__file__).resolve().parents[2],
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "building"
    for _ in range(4):  # one batch of three documents committed, the next one half-written
        assert proc.stdout.readline().strip() == "inserted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    [path] = (sample_copy / "keyword").glob("*.sqlite3")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.execute("INSERT INTO fts(fts) VALUES('integrity-check')")  # raises if corrupt
        indexed = db.execute("SELECT count(DISTINCT doc_id) FROM chunks").fetchone()[0]
    service = Service(make_settings(sample_copy), embedder=embedder)
    assert indexed == 3  # the committed batch, none of the one killed half-way
    assert not service.keyword.ready
    assert service.keyword.ensure()  # resumes the build
    same(service.keyword, fresh(service, tmp_path / "fresh"))


def test_a_servers_first_build_runs_in_the_background_while_dense_retrieval_answers(
    sample_copy: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    for old in (sample_copy / "keyword").glob("*"):
        old.unlink()
    service = Service(make_settings(sample_copy), embedder=embedder)
    release = threading.Event()
    insert = KeywordIndex._insert

    def held(self: KeywordIndex, *args: object) -> None:
        release.wait(timeout=60)
        insert(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(KeywordIndex, "_insert", held)
    service.keyword.follow(interval=0.2)
    try:
        assert service.health()["keyword_index"]["state"] == "building"  # type: ignore[index]
        hits = service.retriever.search("Women, Peace and Security Act", 5)
        assert hits and all(h.keyword == 0.0 for h in hits)  # dense only, meanwhile
        release.set()
        deadline = time.monotonic() + 60
        while not service.keyword.ready and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.health()["keyword_index"]["state"] == "ready"  # type: ignore[index]
        hits = service.retriever.search("Women, Peace and Security Act", 5)
        assert any(h.keyword > 0 for h in hits)
    finally:
        release.set()
        service.keyword.close()
