"""The keyword index: BM25 over the chunks in Chroma, kept in an SQLite FTS5 table on local disk
and brought up to date document by document, never rebuilt for a change.

Why SQLite FTS5 (and not tantivy, or the in-memory bm25s index this replaced): it is in the
standard library, so no new dependency or server; it is transactional, so a process killed in
the middle of a write leaves the last committed state (WAL journal); with WAL, readers never
wait for the writer, so answering goes on while an ingest is applied; and its index lives on
disk, so a process holds its page cache, not the corpus.

What is stored, one file per collection under the data dir:
- per document, the hash of the version indexed (``docs``);
- per chunk, its metadata and text, what a hit shows (``chunks``), and, for BM25, its terms
  widened by ``context`` neighbouring chunks of its document on each side (``body``, indexed by
  the FTS5 table): a passage is found by words its neighbours use too (on BEIR SciFact +0.01
  nDCG@10 for BM25 over 500-character chunks);
- per term, how many chunks use it in their own text (``terms.df``: the answerer's idf) and how
  many windows (``terms.wdf``: BM25's idf).

Scoring: FTS5's bm25() has k1 = 1.2 and b = 0.75 built in, so it only picks the candidates (the
best ``CANDIDATES`` for the query's rarest terms ORed, see ``POSTINGS``); those are scored with
the configured k1 and b by the BM25 of bm25s' "lucene" variant that this index replaced
(idf = ln(1 + (N - df + 0.5) / (df + 0.5)), term weight tf / (tf + k1 (1 - b + b dl / avgdl))),
from their stored terms.

Following changes (ingest.store keeps the feed in Chroma: every document record written carries
``changed_at``, every removal leaves a tombstone): ``refresh`` reads what changed since its
watermark, less ``SLACK`` (a writer's steps and the clocks of several hosts may disagree by that
much; re-reading a document that has not changed costs one comparison), reads those documents'
chunks from Chroma and replaces them here, each batch in one transaction, so a question sees a
document's old chunks or its new ones, never a mix. The process that ingests applies its own
changes at once; a server also follows other processes' from a background thread (``follow``);
a command-line process catches up before it searches.

A new index is built once from Chroma (``build``: every document record against what is here,
so it also resumes a build that was interrupted and repairs an index that missed a change). A
server builds in the background and answers meanwhile from dense retrieval alone (``ready``;
/health says so).
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from assistant.text import language_of, query_tokens, tokens
from ingest.store import ChromaStore, DocRecord, StoredChunk
from ingest.sync import embed_text

log = logging.getLogger(__name__)

SCHEMA = 2  # bump when the tables change: an index of another schema is rebuilt
SLACK = 30.0  # seconds of the change feed re-read at every refresh
CANDIDATES = 200  # FTS5 candidates scored with k1/b per question (at least 4x the pool)
# FTS5 ranks every chunk that holds any of the terms it is given, so the candidates come from
# the query's rarest terms, as many as fit in this many postings (always the rarest one): a
# word that a third of a 300k-chunk library uses would make every question rank 100k chunks,
# and it moves BM25 little (its idf is low). All the query's terms score the candidates.
POSTINGS = 20_000
BATCH_DOCS = 200  # documents applied per transaction
FOLLOW_INTERVAL = 1.0  # seconds between two looks at the change feed

_COLUMNS = "chunk_id, doc_id, doc_hash, ordinal, start, end_, location, title, source, language"
_TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs(doc_id TEXT PRIMARY KEY, doc_hash TEXT, language TEXT)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
    doc_hash TEXT, ordinal INTEGER, start INTEGER, end_ INTEGER, location TEXT, title TEXT,
    source TEXT, language TEXT, text TEXT, body TEXT, length INTEGER);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='chunks', content_rowid='id',
    tokenize="unicode61 remove_diacritics 0 tokenchars '.'");
CREATE TABLE IF NOT EXISTS terms(
    term TEXT PRIMARY KEY, df INTEGER NOT NULL, wdf INTEGER NOT NULL) WITHOUT ROWID;
"""


class KeywordIndex:
    def __init__(
        self,
        store: ChromaStore,
        folder: Path,
        *,
        k1: float,
        b: float,
        context: int,
    ):
        self.store = store
        self.k1 = k1
        self.b = b
        self.context = context
        # a data dir holds one embedded store, but may be pointed at several servers
        where = "local" if store.url is None else hashlib.sha1(store.url.encode()).hexdigest()[:8]
        self._stem = f"{store.name}-{where}"
        self.path = folder / f"{self._stem}-c{context}-s{SCHEMA}.sqlite3"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._write_lock = threading.Lock()
        self._opened = False
        self._ready = False
        self._building = False
        self._progress = (0, 0)
        self._followed = False
        self._last_refresh = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._df_cache: dict[str, int] = {}
        self._languages: frozenset[str] | None = None
        self._conn_lock = threading.Lock()

    # -- connections ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if not self._opened:
                self._open()
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA synchronous = NORMAL")
        with self._conn_lock:
            self._connections.append(conn)
        return conn

    def _open(self) -> None:
        with self._conn_lock:
            if self._opened:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for old in self.path.parent.glob(f"{self._stem}-*.sqlite3*"):
                if not old.name.startswith(self.path.name):  # another schema or context
                    old.unlink(missing_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_TABLES)
            conn.close()
            self._opened = True

    def close(self) -> None:
        """Stop following and close every connection (the index stays on disk)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._conn_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def _meta(self, key: str, default: str = "") -> str:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, **values: object) -> None:
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    # -- state ----------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether the index holds the whole store (built once; then kept current)."""
        if not self._ready:
            self._ready = self._meta("built") == "1"
        return self._ready

    @property
    def building(self) -> bool:
        """Whether a background build is under way."""
        return self._building

    def status(self) -> dict[str, object]:
        done, total = self._progress
        state = "ready" if self.ready else "building" if self._building else "not built"
        return {
            "state": state,
            "chunks": self.size,
            "documents_indexed": done if state == "building" else None,
            "documents_total": total if state == "building" else None,
            "following": self._followed,
        }

    @property
    def size(self) -> int:
        """Chunks in the index."""
        return int(self._meta("chunks", "0"))

    def ensure(self) -> bool:
        """Make the index usable for a search and say whether it is: built now unless a
        background build is under way (then False: search dense-only meanwhile), and caught up
        with the store's changes unless a background thread follows them."""
        if not self.ready:
            if self._building:
                return False
            self.build()
            return True
        if not self._followed and time.monotonic() - self._last_refresh > FOLLOW_INTERVAL:
            self.refresh()
        return True

    def follow(self, interval: float = FOLLOW_INTERVAL) -> None:
        """Build the index if needed, then apply the store's changes every ``interval``
        seconds, on a background thread (a server's)."""
        if self._thread is not None:
            return
        self._building = not self.ready
        self._followed = True

        def run() -> None:
            try:
                if not self.ready:
                    self.build()
            except Exception:
                log.exception("building the keyword index failed; retrying")
            finally:
                self._building = False
            while not self._stop.wait(interval):
                try:
                    if self.ready:
                        self.refresh()
                    else:
                        self.build()
                except Exception as exc:  # the store may be down for a while: try again
                    log.warning("keyword index: cannot follow the store's changes (%s)", exc)

        self._thread = threading.Thread(target=run, name="keyword-follow", daemon=True)
        self._thread.start()

    # -- building and following -----------------------------------------------------------------
    def build(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Bring the index in line with every document record in the store; returns how many
        documents were (re)indexed or removed. Resumes where an interrupted build stopped."""
        with self._write_lock:
            started = time.time()
            records = self.store.doc_records()
            conn = self._conn()
            local = dict(conn.execute("SELECT doc_id, doc_hash FROM docs").fetchall())
            gone = [d for d in local if d not in records]
            todo = [d for d, r in records.items() if local.get(d) != r.doc_hash]
            total = len(gone) + len(todo)
            self._progress = (0, total)
            changed = self._remove(gone)
            done = len(gone)
            for s in range(0, len(todo), BATCH_DOCS):
                part = {d: records[d] for d in todo[s : s + BATCH_DOCS]}
                changed += self._add(part)
                done += len(part)
                self._progress = (done, total)
                if progress:
                    progress(done, total)
            with _transaction(conn):
                self._set_meta(conn, built=1, watermark=started)
            self._ready = True
            self._last_refresh = time.monotonic()
            return changed

    def refresh(self) -> int:
        """Apply the changes the store recorded since the last look; returns how many
        documents were (re)indexed or removed."""
        if not self.ready:
            return 0
        with self._write_lock:
            started = time.time()
            since = float(self._meta("watermark", "0")) - SLACK
            records, removed = self.store.changed_since(since)
            changed = 0
            ids = sorted(set(records) | set(removed))
            if ids:
                conn = self._conn()
                marks = ",".join("?" * len(ids))
                local = dict(
                    conn.execute(
                        f"SELECT doc_id, doc_hash FROM docs WHERE doc_id IN ({marks})", ids
                    ).fetchall()
                )
                # a tombstone whose record is still there: the removal is under way (or the
                # document came back); either way the next look, within SLACK, sees the outcome
                maybe = [d for d in removed if d not in records and d in local]
                still = self.store.doc_records_of(maybe)
                gone = [d for d in maybe if d not in still]
                changed += self._remove(gone)
                todo = [d for d, r in records.items() if local.get(d) != r.doc_hash]
                for s in range(0, len(todo), BATCH_DOCS):
                    changed += self._add({d: records[d] for d in todo[s : s + BATCH_DOCS]})
            with _transaction(self._conn()) as conn:
                self._set_meta(conn, watermark=started)
            self._last_refresh = time.monotonic()
            return changed

    def _remove(self, doc_ids: Sequence[str]) -> int:
        conn = self._conn()
        for s in range(0, len(doc_ids), BATCH_DOCS):
            with _transaction(conn):
                for doc_id in doc_ids[s : s + BATCH_DOCS]:
                    self._drop(conn, doc_id)
        return len(doc_ids)

    def _add(self, records: dict[str, DocRecord]) -> int:
        """Index these documents' current versions, in one transaction. A document whose
        chunks are not all there (a newer version is being written) is left as it is: the new
        version's record will bring it."""
        by_doc: dict[str, list[StoredChunk]] = {d: [] for d in records}
        for chunk in self.store.chunks_of(list(records)):
            record = records.get(chunk.doc_id)
            if record is not None and chunk.doc_hash == record.doc_hash:
                by_doc[chunk.doc_id].append(chunk)
        complete = {d: c for d, c in by_doc.items() if len(c) == records[d].chunks}
        conn = self._conn()
        with _transaction(conn):
            for doc_id, chunks in complete.items():
                self._drop(conn, doc_id)
                self._insert(conn, records[doc_id], chunks)
        return len(complete)

    def _drop(self, conn: sqlite3.Connection, doc_id: str) -> None:
        rows = conn.execute(
            "SELECT id, body, length, text, title, location, language FROM chunks WHERE doc_id = ?",
            (doc_id,),
        ).fetchall()
        if not rows:
            conn.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
            return
        conn.executemany(
            "INSERT INTO fts(fts, rowid, body) VALUES('delete', ?, ?)", [(r[0], r[1]) for r in rows]
        )
        lost: Counter[str] = Counter()
        lost_windows: Counter[str] = Counter()
        for _, body, _, text, title, location, language in rows:
            lost.update(set(tokens(embed_text(title, location, text), language)))
            lost_windows.update(set(body.split()))
        conn.executemany(
            "UPDATE terms SET df = df - ?, wdf = wdf - ? WHERE term = ?",
            [(lost[t], lost_windows[t], t) for t in lost_windows.keys() | lost.keys()],
        )
        conn.executemany(
            "DELETE FROM terms WHERE term = ? AND wdf <= 0 AND df <= 0",
            [(t,) for t in lost_windows.keys() | lost.keys()],
        )
        conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
        self._count(conn, -len(rows), -sum(r[2] for r in rows))

    def _insert(
        self, conn: sqlite3.Connection, record: DocRecord, chunks: list[StoredChunk]
    ) -> None:
        conn.execute(
            "INSERT INTO docs(doc_id, doc_hash, language) VALUES(?, ?, ?)",
            (record.doc_id, record.doc_hash, language_of(record.language)),
        )
        windows = _windows(chunks, self.context)
        gained: Counter[str] = Counter()
        gained_windows: Counter[str] = Counter()
        length = 0
        for chunk in chunks:
            body = tokens(
                embed_text(chunk.title, chunk.location, windows[chunk.chunk_id]), chunk.language
            )
            gained.update(
                set(tokens(embed_text(chunk.title, chunk.location, chunk.text), chunk.language))
            )
            gained_windows.update(set(body))
            cursor = conn.execute(
                f"INSERT INTO chunks({_COLUMNS}, text, body, length) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk.chunk_id,
                    chunk.doc_id,
                    chunk.doc_hash,
                    chunk.ordinal,
                    chunk.start,
                    chunk.end,
                    chunk.location,
                    chunk.title,
                    chunk.source,
                    chunk.language,
                    chunk.text,
                    " ".join(body),
                    len(body),
                ),
            )
            conn.execute(
                "INSERT INTO fts(rowid, body) VALUES(?, ?)", (cursor.lastrowid, " ".join(body))
            )
            length += len(body)
        conn.executemany(
            "INSERT INTO terms(term, df, wdf) VALUES(?, ?, ?) "
            "ON CONFLICT(term) DO UPDATE SET df = df + excluded.df, wdf = wdf + excluded.wdf",
            [(t, gained[t], gained_windows[t]) for t in gained_windows.keys() | gained.keys()],
        )
        self._count(conn, len(chunks), length)

    def _count(self, conn: sqlite3.Connection, chunks: int, length: int) -> None:
        row = conn.execute(
            "SELECT (SELECT value FROM meta WHERE key = 'chunks'), "
            "(SELECT value FROM meta WHERE key = 'length')"
        ).fetchone()
        self._set_meta(conn, chunks=int(row[0] or 0) + chunks, length=int(row[1] or 0) + length)
        self._df_cache.clear()
        self._languages = None

    # -- reading --------------------------------------------------------------------------------
    @property
    def languages(self) -> frozenset[str]:
        """The tokenisers a query is read with: one per language the documents are in."""
        if self._languages is None:
            rows = self._conn().execute("SELECT DISTINCT language FROM docs").fetchall()
            self._languages = frozenset(str(r[0]) for r in rows)
        return self._languages

    def chunks(self, ids: Iterable[str]) -> dict[str, StoredChunk]:
        """The indexed chunks among ``ids`` (a chunk written since, or of a version being
        replaced, is not among them)."""
        ids = list(ids)
        found: dict[str, StoredChunk] = {}
        conn = self._conn()
        for s in range(0, len(ids), 500):
            part = ids[s : s + 500]
            marks = ",".join("?" * len(part))
            for row in conn.execute(
                f"SELECT {_COLUMNS}, text FROM chunks WHERE chunk_id IN ({marks})", part
            ):
                found[row[0]] = _chunk(row)
        return found

    def doc_freq(self, term: str) -> int:
        """Chunks whose own text (with its title and heading) uses the (stemmed) term."""
        df = self._df_cache.get(term)
        if df is None:
            row = self._conn().execute("SELECT df FROM terms WHERE term = ?", (term,)).fetchone()
            df = 0 if row is None else int(row[0])
            if len(self._df_cache) > 50_000:
                self._df_cache.clear()
            self._df_cache[term] = df
        return df

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (stemmed) term over chunks; unseen terms get the max."""
        n = self.size
        df = self.doc_freq(term)
        return float(math.log(1 + (n - df + 0.5) / (df + 0.5)))

    def search(
        self,
        query: str,
        n: int,
        doc_ids: frozenset[str] | None = None,
        also: Sequence[str] = (),
    ) -> tuple[dict[str, float], float]:
        """BM25 scores of the best ``n`` chunks for the query (within ``doc_ids`` if given),
        with those of the chunks in ``also`` (each its score, 0 when it has none), and the best
        score of all."""
        terms = query_tokens(query, self.languages)
        if not terms:
            return {cid: 0.0 for cid in also}, 0.0
        conn = self._conn()
        marks = ",".join("?" * len(terms))
        sql = f"SELECT term, wdf FROM terms WHERE term IN ({marks}) AND wdf > 0"
        wdf = dict(conn.execute(sql, terms).fetchall())
        picked: list[str] = []
        postings = 0
        for term in sorted(wdf, key=lambda t: wdf[t]):
            if picked and postings + wdf[term] > POSTINGS:
                break
            picked.append(term)
            postings += wdf[term]
        found = _match(conn, picked, max(CANDIDATES, 4 * n), doc_ids) if picked else []
        rows = {row[0]: row for row in found}
        missing = [cid for cid in also if cid not in rows]
        for s in range(0, len(missing), 500):
            part = missing[s : s + 500]
            marks = ",".join("?" * len(part))
            for row in conn.execute(
                f"SELECT chunk_id, body, length FROM chunks WHERE chunk_id IN ({marks})", part
            ):
                rows[row[0]] = row
        scores = self._bm25(wdf, list(rows.values()))
        best = max(scores.values(), default=0.0)
        top = sorted((c for c in scores if scores[c] > 0), key=lambda c: -scores[c])[:n]
        result = {cid: scores[cid] for cid in top}
        result.update((cid, scores.get(cid, 0.0)) for cid in also)
        return result, best

    def _bm25(self, df: dict[str, int], rows: list[tuple[str, str, int]]) -> dict[str, float]:
        """BM25 of the rows (chunk_id, body, length) for the query's terms, given with how many
        chunks' windows hold each."""
        if not rows:
            return {}
        n_chunks = max(self.size, 1)
        avg = max(int(self._meta("length", "0")) / n_chunks, 1e-9)
        idf = {t: math.log(1 + (n_chunks - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        scores: dict[str, float] = {}
        for cid, body, length in rows:
            counts = Counter(body.split())
            norm = self.k1 * (1 - self.b + self.b * length / avg)
            scores[cid] = sum(
                w * counts[t] / (counts[t] + norm) for t, w in idf.items() if counts[t]
            )
        return scores


def _match(
    conn: sqlite3.Connection, terms: list[str], limit: int, doc_ids: frozenset[str] | None
) -> list[tuple[str, str, int]]:
    """The FTS5 candidates for any of the terms: (chunk_id, body, length), best first."""
    expression = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    sql = (
        "SELECT c.chunk_id, c.body, c.length FROM fts JOIN chunks c ON c.id = fts.rowid "
        "WHERE fts MATCH ?"
    )
    args: list[object] = [expression]
    if doc_ids is not None:
        if not doc_ids:
            return []
        ids = sorted(doc_ids)
        sql += f" AND c.doc_id IN ({','.join('?' * len(ids))})"
        args.extend(ids)
    sql += " ORDER BY fts.rank LIMIT ?"
    args.append(limit)
    return conn.execute(sql, args).fetchall()


def _chunk(row: Sequence[object]) -> StoredChunk:
    chunk_id, doc_id, doc_hash, ordinal, start, end, location, title, source, language, text = row
    return StoredChunk(
        chunk_id=str(chunk_id),
        text=str(text),
        doc_id=str(doc_id),
        doc_hash=str(doc_hash),
        ordinal=int(ordinal),  # type: ignore[call-overload]
        start=int(start),  # type: ignore[call-overload]
        end=int(end),  # type: ignore[call-overload]
        location=str(location),
        title=str(title),
        source=str(source),
        language=str(language),
    )


class _transaction:
    """``with _transaction(conn):`` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _windows(chunks: list[StoredChunk], context: int) -> dict[str, str]:
    """Each chunk's text widened by ``context`` neighbouring chunks of its document on each side,
    stitched by character offsets so overlapping text is not counted twice."""
    by_doc: dict[str, list[StoredChunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    windows: dict[str, str] = {}
    for doc_chunks in by_doc.values():
        doc_chunks.sort(key=lambda c: (c.start, c.ordinal))
        for i, chunk in enumerate(doc_chunks):
            parts: list[str] = []
            end = -1
            for near in doc_chunks[max(0, i - context) : i + context + 1]:
                if near.end <= end:
                    continue
                skip = max(0, end - near.start)
                parts.append(near.text[skip:])
                end = near.end
            windows[chunk.chunk_id] = " ".join(parts) if context else chunk.text
    return windows
