"""Incremental sync of files into the store.

Unchanged files (same size and mtime, or same content hash) cost no embedding; changed files
have their old record deleted, their new chunks written, their stale chunks deleted, and the
new record written last. So a record always means "all chunks of this hash are in place", and
a crash at any point leaves the unfinished documents without a record: the next run redoes
exactly those, and deterministic chunk ids make that idempotent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ingest.chunking import CHUNK_OVERLAP, CHUNK_SIZE, chunk_document
from ingest.document import Chunk, Document
from ingest.embedding import INGEST_BATCH, Embedder
from ingest.language import detect_language
from ingest.loaders import LoadError, LoadOptions, load_document
from ingest.sentences import sentence_spans
from ingest.span_vectors import FORMAT as SPAN_FORMAT
from ingest.span_vectors import SpanVectors, pack
from ingest.store import ChromaStore, DocRecord, join_tags


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    documents: list[dict[str, str]] = field(default_factory=list)  # doc_id, path, status
    # files read in a legacy encoding, found by detection: {"path", "encoding"}
    encodings: list[dict[str, str]] = field(default_factory=list)
    embedded: int = 0
    model_loaded: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "chunks": self.chunks,
            "failed": self.failed,
            "documents": self.documents,
            "encodings": self.encodings,
            "embedded": self.embedded,
            "model_loaded": self.model_loaded,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class SourceFile:
    path: Path
    doc_id: str
    root: Path


ProgressFn = Callable[[int, int, str], None]


def discover(paths: Iterable[Path]) -> tuple[list[SourceFile], list[dict[str, str]]]:
    """Expand files and directories into source files with stable ids (path from the root)."""
    found: list[SourceFile] = []
    problems: list[dict[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root = path.resolve()
            for file in _walk(root, problems):
                found.append(SourceFile(file, file.relative_to(root).as_posix(), root))
        elif path.is_file():
            resolved = path.resolve()
            found.append(SourceFile(resolved, path.name, resolved.parent))
        elif path.is_symlink():
            problems.append(
                {"path": display_path(path), "error": "broken symbolic link; fix or remove it"}
            )
        else:
            problems.append({"path": display_path(path), "error": "no such file or directory"})
    seen_files: set[Path] = set()
    unique = []
    # a file and a symbolic link to it are one document, named after the file, not the link
    for source in sorted(found, key=lambda s: s.path.is_symlink()):
        if not _is_utf8(source.doc_id) or not _is_utf8(str(source.path)):
            # the id, title and path go into Chroma, the encoder and JSON, which need Unicode
            problems.append(
                {
                    "path": display_path(source.path),
                    "error": "the file name is not valid UTF-8; rename it and ingest again",
                }
            )
            continue
        real = source.path.resolve()
        if real in seen_files:  # named twice, e.g. a folder and a file in it: one document
            continue
        seen_files.add(real)
        unique.append(source)
    return unique, problems


def assign_ids(sources: list[SourceFile], records: dict[str, DocRecord]) -> list[SourceFile]:
    """One document per file: each file keeps the id it was stored under (found by its path);
    a new file takes its name (its path from the folder ingested) unless another file that
    still exists holds that id, and then gets the shortest id made distinct by its parent
    folders ("2024/policy.md"). A stored document whose file is gone hands its id on to a
    file of the same name (a moved corpus, a new install of the sample), which is then
    compared by content as usual."""
    by_path = {r.path: doc_id for doc_id, r in records.items() if r.path}
    used: set[str] = set()
    assigned = list(sources)
    # files already in the store first, so that a new one never takes their id
    for i in sorted(range(len(sources)), key=lambda i: str(sources[i].path) not in by_path):
        source = sources[i]
        own = by_path.get(str(source.path))
        if own is not None and own not in used:
            doc_id = own
        else:
            doc_id = source.doc_id
            if doc_id in used or _held_by_another(records.get(doc_id), source.path):
                doc_id = _distinct_id(source, records, used)
        used.add(doc_id)
        assigned[i] = SourceFile(source.path, doc_id, source.root)
    return assigned


FEW_FILES = 200  # an ingest of at most this many files reads only the records it may touch


def _records_for(
    store: ChromaStore, sources: list[SourceFile], prune: bool
) -> tuple[dict[str, DocRecord], list[SourceFile]]:
    """The document records the ingest needs, and the sources with their ids assigned.

    A few files (an upload) read only the records of their own ids and paths, not the whole
    store's (seconds at 100,000 documents); should one of them need a distinct id (its name is
    held by another file), the ids are assigned again against every record, so that a new file
    never takes an id that a record outside the few holds. A prune needs every record."""
    if prune or len(sources) > FEW_FILES:
        records = store.doc_records()
        return records, assign_ids(sources, records)
    records = store.doc_records_of([s.doc_id for s in sources])
    records.update(store.doc_records_at([str(s.path) for s in sources]))
    assigned = assign_ids(sources, records)
    if all(a.doc_id == s.doc_id for a, s in zip(assigned, sources, strict=True)):
        return records, assigned
    records = store.doc_records()
    return records, assign_ids(sources, records)


def _outcome(source: SourceFile, status: str) -> dict[str, str]:
    return {"doc_id": source.doc_id, "path": str(source.path), "status": status}


def _held_by_another(record: DocRecord | None, path: Path) -> bool:
    return record is not None and record.path != str(path) and Path(record.path).exists()


def _distinct_id(source: SourceFile, records: dict[str, DocRecord], used: set[str]) -> str:
    parents = source.path.parent.parts[1:]  # without the filesystem root
    for depth in range(1, len(parents) + 1):
        candidate = "/".join([*parents[-depth:], source.doc_id])
        if candidate not in used and not _held_by_another(records.get(candidate), source.path):
            return candidate
    n = 2
    while f"{source.doc_id}~{n}" in used or f"{source.doc_id}~{n}" in records:
        n += 1
    return f"{source.doc_id}~{n}"


def display_path(path: Path | str) -> str:
    """A path as printable text: bytes of a non-UTF-8 name show as escapes, e.g. ``r\\xe9``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(root: Path, problems: list[dict[str, str]]) -> Iterator[Path]:
    def on_error(err: OSError) -> None:
        problems.append(
            {"path": display_path(err.filename), "error": f"cannot list folder ({err.strerror})"}
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            file = Path(dirpath) / name
            if file.is_symlink() and not file.exists():
                problems.append(
                    {"path": display_path(file), "error": "broken or looping symbolic link"}
                )
                continue
            yield file


def embed_text(title: str, location: str, text: str) -> str:
    """What gets embedded and keyword-indexed: the chunk with its title and heading context."""
    context = [title] if title else []
    if location and location != title:
        context.append(location)
    return "\n".join([*context, text])


def chunk_metadata(chunk: Chunk, document: Document, language: str = "") -> dict[str, Any]:
    return {
        "language": language,
        "doc_id": chunk.doc_id,
        "doc_hash": chunk.doc_hash,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
        "location": chunk.location,
        "title": document.title,
        "source": document.source,
    }


class _Writer:
    """Buffers chunks across documents so the encoder sees full batches.

    Chunks are embedded and written ``flush_at`` at a time, so a document of 50,000 chunks
    costs the memory of one batch of texts and vectors, not of all of them at once. Writes run
    on one background thread while the next batch is encoded; at most one batch waits to be
    written, and the writes keep their order, so the crash-safety order per document holds.
    """

    def __init__(
        self, store: ChromaStore, embedder: Embedder, report: IngestReport, flush_at: int
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.report = report
        self.flush_at = flush_at
        self.pending: list[tuple[DocRecord, Document, list[Chunk], bool]] = []
        self.size = 0
        self.model_recorded = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self._inflight: Future[None] | None = None

    def _submit(self, fn: Callable[[], None]) -> None:
        self.wait()
        self._inflight = self._thread.submit(fn)

    def wait(self) -> None:
        """Wait for the submitted write to land; its error (or a crash) surfaces here."""
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.result()

    def shutdown(self) -> None:
        self._thread.shutdown(wait=True)

    def add(self, record: DocRecord, document: Document, chunks: list[Chunk], is_new: bool) -> None:
        self.pending.append((record, document, chunks, is_new))
        self.size += len(chunks)
        if self.size >= self.flush_at:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending, self.size = self.pending, [], 0
        work = [(index, chunk) for index, item in enumerate(pending) for chunk in item[2]]
        empty = [index for index, item in enumerate(pending) if not item[2]]
        if empty:
            self._submit(partial(self._begin, pending, empty))
            self._submit(partial(self._finish, pending, empty))
        for s in range(0, len(work), self.flush_at):
            part = work[s : s + self.flush_at]
            texts = [embed_text(pending[i][1].title, c.location, c.text) for i, c in part]
            sentences = [sentence_spans(c.text) for _, c in part]
            shifts = [len(text) - len(c.text) for text, (_, c) in zip(texts, part, strict=True)]
            vectors, pooled = self.embedder.embed_with_spans(
                texts,
                [
                    [(shift + s, shift + e) for s, e in spans]
                    for shift, spans in zip(shifts, sentences, strict=True)
                ],
            )
            del texts
            span_meta = [
                pack(SpanVectors(spans, counts, means))
                for spans, (counts, means) in zip(sentences, pooled, strict=True)
            ]
            if not self.model_recorded:
                self.wait()
                self.store.record_model(self.embedder.name, vectors.shape[1])
                # readers' keyword caches must not trust the old generation once writes begin
                self.store.bump_generation()
                self.model_recorded = True
            self._submit(partial(self._write, pending, part, vectors, span_meta))

    def _write(
        self,
        pending: list[tuple[DocRecord, Document, list[Chunk], bool]],
        part: list[tuple[int, Chunk]],
        vectors: Any,
        span_meta: list[dict[str, Any]],
    ) -> None:
        """Write one encoded batch with a handful of store calls, whatever its document count.

        Order per document: old record out, chunks in, stale chunks out, new record in; the
        calls are batched across documents but that order holds for each of them.
        """
        begun = [i for i, c in part if c is pending[i][2][0]]
        finished = [i for i, c in part if c is pending[i][2][-1]]
        self._begin(pending, begun)
        self.store.upsert_chunks(
            [c.chunk_id for _, c in part],
            vectors,
            [c.text for _, c in part],
            [
                chunk_metadata(c, pending[i][1], pending[i][0].language) | meta
                for (i, c), meta in zip(part, span_meta, strict=True)
            ],
        )
        self._finish(pending, finished)

    def _begin(
        self, pending: list[tuple[DocRecord, Document, list[Chunk], bool]], indexes: list[int]
    ) -> None:
        # the old record promises the old chunks, which are about to go; without it an
        # interrupted update is redone even if the file is reverted meanwhile
        self.store.delete_doc_records([pending[i][0].doc_id for i in indexes if not pending[i][3]])

    def _finish(
        self, pending: list[tuple[DocRecord, Document, list[Chunk], bool]], indexes: list[int]
    ) -> None:
        if not indexes:
            return
        # by id, not by hash: re-chunking the same text (new chunk size) reuses ids
        self.store.delete_stale_chunks(
            [pending[i][0].doc_id for i in indexes],
            keep_ids={c.chunk_id for i in indexes for c in pending[i][2]},
        )
        self.store.put_doc_records([pending[i][0] for i in indexes])
        for i in indexes:
            chunks, is_new = pending[i][2], pending[i][3]
            self.report.chunks += len(chunks)
            self.report.embedded += len(chunks)
            if is_new:
                self.report.added += 1
            else:
                self.report.updated += 1


def sync(
    paths: Iterable[Path],
    store: ChromaStore,
    embedder: Embedder,
    *,
    prune: bool = False,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
    progress: ProgressFn | None = None,
    flush_at: int = INGEST_BATCH,
    tags: Sequence[str] = (),
    load_options: LoadOptions | None = None,
) -> IngestReport:
    """Bring the store in line with the given files and folders; see the module docstring.

    ``tags`` are added to every document found (changed or not); a document keeps the tags
    it had, whatever its new content."""
    started = time.perf_counter()
    paths = [Path(p) for p in paths]  # iterated twice (discover, prune): no one-shot iterators
    report = IngestReport()
    sources, problems = discover(paths)
    report.failed.extend(problems)
    store.check_model(embedder.name)
    records, sources = _records_for(store, sources, prune)
    # a change of any of these re-embeds a document even when its file is unchanged
    chunking = f"{chunk_size}/{chunk_overlap}/{SPAN_FORMAT}"
    writer = _Writer(store, embedder, report, flush_at)
    changed = False
    try:
        for done, source in enumerate(sources, start=1):
            if progress:
                progress(done - 1, len(sources), source.doc_id)
            record = records.get(source.doc_id)
            try:
                stat = source.path.stat()
            except OSError as exc:
                report.failed.append(
                    {"path": str(source.path), "error": f"cannot read ({exc.strerror})"}
                )
                continue
            same_chunking = record is not None and record.chunking == chunking
            kept_tags = join_tags(record.tag_list if record else (), tags)
            if (
                record
                and same_chunking
                and record.path == str(source.path)  # a file that took over a gone file's id
                and record.size == stat.st_size
                and record.mtime_ns == stat.st_mtime_ns
            ):
                if kept_tags != record.tags:
                    record.tags = kept_tags
                    store.put_doc_record(record)
                report.unchanged += 1
                report.documents.append(_outcome(source, "unchanged"))
                continue
            try:
                document = load_document(source.path, source.doc_id, load_options)
            except LoadError as exc:
                report.failed.append({"path": str(source.path), "error": str(exc)})
                continue
            except Exception as exc:  # a loader bug must not abort the other files
                report.failed.append(
                    {
                        "path": str(source.path),
                        "error": f"could not parse ({type(exc).__name__}: {exc})",
                    }
                )
                continue
            if "encoding" in document.metadata:
                report.encodings.append(
                    {"path": str(source.path), "encoding": document.metadata["encoding"]}
                )
            new_record = DocRecord(
                doc_id=source.doc_id,
                doc_hash=document.content_hash,
                title=document.title,
                source=document.source,
                path=str(source.path),
                date=document.date,
                chunks=0,
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
                ingested_at=time.time(),
                chunking=chunking,
                tags=kept_tags,
                language=detect_language(document.text),
            )
            if record and same_chunking and record.doc_hash == new_record.doc_hash:
                new_record.chunks = record.chunks
                new_record.ingested_at = record.ingested_at
                store.put_doc_record(new_record)  # touched but same text: remember the new mtime
                report.unchanged += 1
                report.documents.append(_outcome(source, "unchanged"))
                continue
            chunks = chunk_document(document, chunk_size, chunk_overlap)
            new_record.chunks = len(chunks)
            writer.add(new_record, document, chunks, is_new=record is None)
            report.documents.append(_outcome(source, "added" if record is None else "updated"))
            changed = True
        writer.flush()
        writer.wait()
    finally:
        writer.shutdown()  # after an error: lets the write in progress land, starts no other
    if prune:
        present = {s.doc_id for s in sources}
        roots = {s.root for s in sources} | {p.resolve() for p in paths if p.is_dir()}
        for doc_id, record in records.items():
            if doc_id in present:
                continue
            rec_path = Path(record.path)
            if any(_is_within(rec_path, root) for root in roots) and not rec_path.exists():
                store.delete_document(doc_id)
                report.removed += 1
                changed = True
        # chunks of a new document whose ingest was interrupted and whose file is now gone
        known = set(records) | present
        orphans = {meta.get("doc_id") for _, meta in store.chunk_metadata()} - known
        for orphan in orphans:
            if isinstance(orphan, str):
                store.delete_chunks(orphan)
                changed = True
    if changed:
        store.bump_generation()
    if progress:
        progress(len(sources), len(sources), "")
    report.model_loaded = embedder.loaded
    report.seconds = time.perf_counter() - started
    return report


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True
