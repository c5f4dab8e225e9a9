"""Incremental sync with the real model and a real Chroma store in a temp dir."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant.service import sample_corpus_dir
from ingest.chunking import chunk_document
from ingest.embedding import Embedder
from ingest.loaders import load_document
from ingest.store import ChromaStore, DocRecord
from ingest.sync import IngestReport, sync
from tests.ingest.builders import (
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    SMALL_CORPUS,
    chunk_state,
    run_sync,
    write_corpus,
    write_pdf,
)

N_DOCS = len(SMALL_CORPUS)


def _ids_of(store: ChromaStore, doc_id: str) -> set[str]:
    return set(store.chunk_ids(doc_id))


def test_first_sync_stores_every_chunk_with_offsets(
    corpus: Path, store: ChromaStore, embedder: Embedder
) -> None:
    report = run_sync([corpus], store, embedder)
    assert (report.added, report.updated, report.unchanged, report.failed) == (N_DOCS, 0, 0, [])
    assert report.chunks == report.embedded == store.count()
    records = store.doc_records()
    assert sorted(records) == sorted(SMALL_CORPUS)  # ids are paths relative to the root
    alpha = records["alpha.md"]
    assert (alpha.title, alpha.source, alpha.date) == (
        "Alpha Guide",
        "https://example.gov/alpha",
        "2023-05-01",
    )
    texts = {doc_id: load_document(corpus / doc_id, doc_id).text for doc_id in SMALL_CORPUS}
    stored = list(store.iter_chunks())
    assert sum(r.chunks for r in records.values()) == len(stored)
    for chunk in stored:
        assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
        assert chunk.doc_hash == records[chunk.doc_id].doc_hash
        assert chunk.title == records[chunk.doc_id].title


def test_resync_of_unchanged_files_is_a_no_op(synced: ChromaStore, corpus: Path) -> None:
    before = chunk_state(synced)
    records = synced.doc_records()
    fresh = Embedder()  # not the session model: an unchanged corpus must not load one
    report = run_sync([corpus], synced, fresh)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, N_DOCS, 0)
    assert (report.embedded, report.chunks, report.failed) == (0, 0, [])
    assert fresh.loaded is False and report.model_loaded is False
    assert chunk_state(synced) == before
    assert synced.doc_records() == records


def test_resync_of_the_sample_store_loads_no_model(sample_copy: Path) -> None:
    store = ChromaStore(path=sample_copy / "chroma")
    before = chunk_state(store)
    count = store.count()
    fresh = Embedder()
    report = sync([sample_corpus_dir()], store, fresh)
    n_files = len(list(sample_corpus_dir().iterdir()))
    assert (report.added, report.updated, report.unchanged, report.embedded) == (0, 0, n_files, 0)
    assert fresh.loaded is False
    assert store.count() == count and chunk_state(store) == before


def test_changing_one_file_re_embeds_only_that_document(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    others = {d: _ids_of(synced, d) for d in ("alpha.md", "gamma/delta.md")}
    old_beta = _ids_of(synced, "beta.txt")
    path = corpus / "beta.txt"
    path.write_text(
        path.read_text(encoding="utf-8") + "\nA new closing paragraph about 2024 funding.\n",
        encoding="utf-8",
    )
    report = run_sync([corpus], synced, embedder)
    new_doc = load_document(path, "beta.txt")
    expected = chunk_document(new_doc, CHUNK_SIZE, CHUNK_OVERLAP)
    assert (report.added, report.updated, report.unchanged) == (0, 1, N_DOCS - 1)
    assert report.embedded == report.chunks == len(expected)
    new_beta = _ids_of(synced, "beta.txt")
    assert new_beta == {c.chunk_id for c in expected}
    assert not new_beta & old_beta, "old chunks are gone"
    assert {d: _ids_of(synced, d) for d in others} == others
    record = synced.doc_record("beta.txt")
    assert record is not None
    assert (record.doc_hash, record.chunks) == (new_doc.content_hash, len(expected))
    texts = {c.text for c in synced.get_chunks(sorted(new_beta))}
    assert any("2024 funding" in t for t in texts)


def test_touched_file_with_same_content_is_unchanged(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    before = chunk_state(synced)
    path = corpus / "alpha.md"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    fresh = Embedder()
    report = run_sync([corpus], synced, fresh)
    assert (report.unchanged, report.updated, report.embedded) == (N_DOCS, 0, 0)
    assert fresh.loaded is False
    assert chunk_state(synced) == before
    record = synced.doc_record("alpha.md")
    assert record is not None and record.mtime_ns == path.stat().st_mtime_ns


def test_deleted_file_is_removed_only_with_prune(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    (corpus / "gamma" / "delta.md").unlink()
    kept = run_sync([corpus], synced, embedder)
    assert kept.removed == 0 and _ids_of(synced, "gamma/delta.md")
    report = run_sync([corpus], synced, embedder, prune=True)
    assert (report.removed, report.unchanged, report.embedded) == (1, N_DOCS - 1, 0)
    assert _ids_of(synced, "gamma/delta.md") == set()
    assert synced.doc_record("gamma/delta.md") is None
    assert sorted(synced.doc_records()) == ["alpha.md", "beta.txt"]


def test_prune_leaves_documents_from_other_roots_alone(
    synced: ChromaStore, tmp_path: Path, embedder: Embedder
) -> None:
    other = write_corpus(tmp_path / "other", {"note.txt": "A note kept from another folder."})
    run_sync([other], synced, embedder)
    report = run_sync([tmp_path / "corpus"], synced, embedder, prune=True)
    assert report.removed == 0
    assert synced.doc_record("note.txt") is not None


def test_interrupted_document_is_completed_without_duplicates(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    """A crash between a document's chunk writes and its record: the next run finishes it."""
    complete = chunk_state(synced)
    synced.docs.delete(ids=["beta.txt"])  # as if the run died before writing the record
    beta = sorted(_ids_of(synced, "beta.txt"))
    synced.chunks.delete(ids=beta[len(beta) // 2 :])  # ... and half-way through its chunks
    report = run_sync([corpus], synced, embedder)
    assert (report.added, report.unchanged) == (1, N_DOCS - 1)
    assert chunk_state(synced) == complete


def test_prune_drops_orphan_chunks_of_a_vanished_unfinished_document(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    complete = chunk_state(synced)
    extra = write_corpus(corpus, {"late.md": "# Late\n\nA file that was being ingested."})
    run_sync([corpus], synced, embedder)
    synced.docs.delete(ids=["late.md"])  # its record never got written...
    (extra / "late.md").unlink()  # ...and the file is gone before the next run
    report = run_sync([corpus], synced, embedder, prune=True)
    assert report.failed == []
    assert chunk_state(synced) == complete


def test_single_file_gets_its_name_as_id(
    corpus: Path, store: ChromaStore, embedder: Embedder
) -> None:
    report = run_sync([corpus / "gamma" / "delta.md"], store, embedder)
    assert report.added == 1
    assert list(store.doc_records()) == ["delta.md"]


# -- bad input -------------------------------------------------------------------------------


def _corrupt_pdf(path: Path) -> None:
    write_pdf(path, ["Some text that will be cut off."])
    path.write_bytes(path.read_bytes()[:200])


BAD_FILES = [
    ("empty.txt", lambda p: p.write_bytes(b""), r"^empty file"),
    ("blank.md", lambda p: p.write_text(" \n\n\t\n"), r"^empty file"),
    (
        "image.txt",
        lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8),
        r"^binary content, not text",
    ),
    ("broken.pdf", _corrupt_pdf, r"^corrupt or unreadable PDF .*re-export"),
    ("notapdf.pdf", lambda p: p.write_bytes(b"just some words"), r"^corrupt or unreadable PDF"),
    ("scan.pdf", lambda p: write_pdf(p, [""]), r"no text layer .*OCR"),
    ("broken.docx", lambda p: p.write_bytes(b"PK\x03\x04 not a zip"), r"^corrupt DOCX"),
    (
        "noise.txt",
        lambda p: p.write_bytes(b"ok " + bytes(range(128, 256)) * 4),
        r"^not valid UTF-8 \(bad byte at offset 3\) and no other text encoding decodes it "
        r"cleanly; re-save the file as UTF-8",
    ),
    ("cut-utf16.txt", lambda p: p.write_bytes(b"\xff\xfeA\x00B"), r"^not valid UTF-16"),
    ("drawing.xyz", lambda p: p.write_text("text"), r"^unsupported file type '\.xyz'; supported:"),
    ("only-markup.html", lambda p: p.write_text("<script>x()</script>"), r"^no text found"),
]


GOOD_FILES = {
    "good.md": b"# Good\n\nThis file loads fine.",
    "utf16-bom.txt": "UTF-16 caf\u00e9 notes about the WPS course.".encode("utf-16"),
    "utf16le-bom.txt": b"\xff\xfe" + "Little endian r\u00e9sum\u00e9 text.".encode("utf-16-le"),
    "utf8-bom.txt": b"\xef\xbb\xbf" + "UTF-8 with a BOM, na\u00efve text.".encode(),
    "latin1.txt": "Caf\u00e9 r\u00e9sum\u00e9 na\u00efve notes of the Bogot\u00e1 course.".encode(
        "latin-1"
    ),
}


@pytest.fixture(scope="module")
def bad_ingest(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> tuple[Path, ChromaStore, IngestReport]:
    """One folder holding every bad file next to good ones, ingested once."""
    root = tmp_path_factory.mktemp("bad-files")
    folder = root / "docs"
    folder.mkdir()
    for name, make, _ in BAD_FILES:
        make(folder / name)
    for name, data in GOOD_FILES.items():
        (folder / name).write_bytes(data)
    store = ChromaStore(path=root / "chroma")
    return folder, store, run_sync([folder], store, embedder)


@pytest.mark.parametrize(
    ("name", "message"), [(b[0], b[2]) for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_bad_file_is_reported_with_a_clear_message(
    bad_ingest: tuple[Path, ChromaStore, IngestReport], name: str, message: str
) -> None:
    folder, _, report = bad_ingest
    errors = [f["error"] for f in report.failed if f["path"] == str(folder / name)]
    assert len(errors) == 1, report.failed
    assert re.search(message, errors[0]), errors[0]


def test_bad_files_do_not_stop_the_rest_of_the_ingest(
    bad_ingest: tuple[Path, ChromaStore, IngestReport],
) -> None:
    folder, store, report = bad_ingest
    assert len(report.failed) == len(BAD_FILES)
    assert report.added == len(GOOD_FILES)
    assert sorted(store.doc_records()) == sorted(GOOD_FILES)
    assert {c.doc_id for c in store.iter_chunks()} == set(GOOD_FILES)


@pytest.mark.parametrize("name", [n for n in GOOD_FILES if "bom" in n])
def test_text_with_a_byte_order_mark_loads(
    bad_ingest: tuple[Path, ChromaStore, IngestReport], name: str
) -> None:
    folder, store, _ = bad_ingest
    expected = load_document(folder / name, name).text
    assert "\ufeff" not in expected and expected[:5] in {"UTF-1", "Littl", "UTF-8"}
    [chunk] = [c for c in store.iter_chunks() if c.doc_id == name]
    assert chunk.text == expected


def test_missing_path_is_reported(tmp_path: Path, store: ChromaStore, embedder: Embedder) -> None:
    report = run_sync([tmp_path / "nowhere"], store, embedder)
    assert report.failed == [
        {"path": str(tmp_path / "nowhere"), "error": "no such file or directory"}
    ]
    assert report.added == 0 and store.count() == 0


def test_new_chunk_size_re_chunks_and_leaves_no_stale_chunks(
    synced: ChromaStore, corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    report = sync([corpus], synced, embedder, chunk_size=900, chunk_overlap=0)
    assert (report.updated, report.unchanged) == (N_DOCS, 0)
    fresh = ChromaStore(path=tmp_path / "fresh")
    sync([corpus], fresh, embedder, chunk_size=900, chunk_overlap=0)
    assert chunk_state(synced) == chunk_state(fresh)
    assert report.embedded == report.chunks == fresh.count() < N_DOCS * 2
    again = sync([corpus], synced, Embedder(), chunk_size=900, chunk_overlap=0)
    assert (again.unchanged, again.embedded) == (N_DOCS, 0)


# -- interruption at every write ---------------------------------------------------------------


class _Crash(BaseException):
    """Stands for the process dying: nothing in the code under test may catch it."""


class _DiesAtWrite(ChromaStore):
    """The real store, except that the process "dies" just before its write number ``at``."""

    def __init__(self, *, path: Path, name: str, at: int) -> None:
        super().__init__(path=path, name=name)
        self.at = at
        self.writes = 0

    def _write(self) -> None:
        if self.writes == self.at:
            raise _Crash
        self.writes += 1

    def _set_metadata(self, **changes: Any) -> None:
        self._write()
        super()._set_metadata(**changes)

    def upsert_chunks(self, *args: Any, **kwargs: Any) -> None:
        self._write()
        super().upsert_chunks(*args, **kwargs)

    def delete_chunks(self, *args: Any, **kwargs: Any) -> int:
        self._write()
        return super().delete_chunks(*args, **kwargs)

    def delete_stale_chunks(self, *args: Any, **kwargs: Any) -> int:
        self._write()
        return super().delete_stale_chunks(*args, **kwargs)

    def delete_doc_records(self, doc_ids: Sequence[str]) -> None:
        self._write()
        super().delete_doc_records(doc_ids)

    def put_doc_records(self, records: Sequence[DocRecord]) -> None:
        self._write()
        super().put_doc_records(records)


def _records(store: ChromaStore) -> dict[str, tuple[str, int, str]]:
    return {d: (r.doc_hash, r.chunks, r.path) for d, r in store.doc_records().items()}


def _state(store: ChromaStore) -> tuple[set[tuple[str, str, str, str]], dict[str, Any]]:
    return chunk_state(store), _records(store)


def _sweep(
    corpus: Path,
    chroma: Path,
    embedder: Embedder,
    expected: tuple[set[tuple[str, str, str, str]], dict[str, Any]],
    prepare: Callable[[ChromaStore], None] = lambda store: None,
    before_resume: Callable[[], None] = lambda: None,
    flush_at: int = 1024,
) -> int:
    """Crash a sync before each of its writes in turn (one collection per crash point); the
    next sync must leave ``expected``. Returns how many writes an uninterrupted sync makes."""
    at = 0
    while True:
        name = f"crash{flush_at}-{at}"
        prepare(ChromaStore(path=chroma, name=name))
        dying = _DiesAtWrite(path=chroma, name=name, at=at)
        try:
            run_sync([corpus], dying, embedder, prune=True, flush_at=flush_at)
        except _Crash:
            pass
        else:
            return at
        # a record always promises all chunks of its hash
        for doc_id, record in dying.doc_records().items():
            hashes = list(dying.chunk_ids(doc_id).values())
            assert hashes.count(record.doc_hash) == record.chunks, (at, doc_id)
        before_resume()
        resumed = ChromaStore(path=chroma, name=name)
        run_sync([corpus], resumed, embedder, prune=True)
        assert _state(resumed) == expected, f"crash before write {at}"
        at += 1


def _clean_state(corpus: Path, chroma: Path, embedder: Embedder) -> Any:
    reference = ChromaStore(path=chroma, name="reference")
    run_sync([corpus], reference, embedder)
    return _state(reference)


# One short chunk per document: the sweeps run a sync per write, so keep them cheap.
TINY_CORPUS = {
    "alpha.md": "# Alpha\n\nAlpha trains advisors.",
    "beta.txt": "Beta notes on resolution 1325.",
    "gamma/delta.md": "# Delta\n\nDelta covers sanctions.",
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "tiny", TINY_CORPUS)


@pytest.mark.parametrize("flush_at", [1, 1024])
def test_first_ingest_interrupted_before_any_write_is_completed_by_the_next(
    tiny: Path, tmp_path: Path, embedder: Embedder, flush_at: int
) -> None:
    """flush_at 1 writes document by document; 1024 batches the writes of all three."""
    corpus = tiny
    chroma = tmp_path / "chroma"
    expected = _clean_state(corpus, chroma, embedder)
    writes = _sweep(corpus, chroma, embedder, expected, flush_at=flush_at)
    # chunks, stale-chunk cleanup and record: per document, or per batch of documents
    assert writes >= (3 * len(TINY_CORPUS) if flush_at == 1 else 3)


def _edit(corpus: Path) -> None:
    (corpus / "beta.txt").write_text("Beta, rewritten: one short paragraph now.", encoding="utf-8")
    (corpus / "gamma" / "delta.md").unlink(missing_ok=True)
    (corpus / "new.md").write_text("# New\n\nA document added in the same run.", encoding="utf-8")


def _unedit(corpus: Path) -> None:
    (corpus / "new.md").unlink(missing_ok=True)
    write_corpus(corpus, TINY_CORPUS)


def test_update_interrupted_before_any_write_is_completed_by_the_next(
    tiny: Path, tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tiny
    chroma = tmp_path / "chroma"
    _edit(corpus)
    expected = _clean_state(corpus, chroma, embedder)

    def prepare(store: ChromaStore) -> None:  # the old corpus ingested, then edited
        _unedit(corpus)
        run_sync([corpus], store, embedder)
        _edit(corpus)

    writes = _sweep(corpus, chroma, embedder, expected, prepare)
    assert writes >= 4
    writes = _sweep(corpus, chroma, embedder, expected, prepare, flush_at=1)
    assert writes >= 6


def test_update_interrupted_then_reverted_gets_the_old_text_back(
    tiny: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """Crash mid-update, then the edit is undone: the store must not keep the edited text."""
    corpus = tiny
    chroma = tmp_path / "chroma"
    expected = _clean_state(corpus, chroma, embedder)
    path = corpus / "beta.txt"
    original = path.read_text(encoding="utf-8")

    def prepare(store: ChromaStore) -> None:
        path.write_text(original, encoding="utf-8")
        run_sync([corpus], store, embedder)
        path.write_text(original + "\nAn edit that is later undone.\n", encoding="utf-8")

    def revert() -> None:  # same text as the old record, but a new mtime
        path.write_text(original, encoding="utf-8")

    writes = _sweep(corpus, chroma, embedder, expected, prepare, revert)
    assert writes >= 3


def test_a_file_named_twice_is_one_document(
    corpus: Path, store: ChromaStore, embedder: Embedder
) -> None:
    paths = iter([corpus, corpus, corpus / "alpha.md"])  # any iterable, even a one-shot one
    report = sync(paths, store, embedder, prune=True)
    assert (report.added, report.failed) == (N_DOCS, [])
    assert sorted(store.doc_records()) == sorted(SMALL_CORPUS)


def test_same_name_from_two_roots_in_one_run_is_two_documents(
    tmp_path: Path, store: ChromaStore, embedder: Embedder
) -> None:
    one = write_corpus(tmp_path / "one", {"notes.md": "# One\n\nFirst notes."})
    two = write_corpus(tmp_path / "two", {"notes.md": "# Two\n\nSecond notes."})
    report = run_sync([one, two], store, embedder)
    assert (report.added, report.failed) == (2, [])
    records = store.doc_records()
    assert sorted(records) == ["notes.md", "two/notes.md"]
    assert records["two/notes.md"].path == str((two / "notes.md").resolve())


@pytest.mark.parametrize("separately", [True, False], ids=["folder by folder", "both at once"])
def test_one_document_per_file(
    tmp_path: Path, store: ChromaStore, embedder: Embedder, separately: bool
) -> None:
    y2023 = write_corpus(tmp_path / "2023", {"policy.md": "# Policy\n\nThe 2023 text."})
    y2024 = write_corpus(tmp_path / "2024", {"policy.md": "# Policy\n\nThe 2024 text."})
    runs = [[y2023], [y2024]] if separately else [[y2023, y2024]]
    for paths in runs:
        assert run_sync(paths, store, embedder).failed == []
    ids = {r.path: d for d, r in store.doc_records().items()}
    assert ids == {
        str((y2023 / "policy.md").resolve()): "policy.md",
        str((y2024 / "policy.md").resolve()): "2024/policy.md",
    }
    texts = {c.doc_id: c.text for c in store.get_chunks([cid for cid, _ in store.chunk_metadata()])}
    assert "2023 text" in texts["policy.md"] and "2024 text" in texts["2024/policy.md"]
    # the same files again, in either order: the same documents, unchanged
    for paths in ([y2024], [y2023], [y2024, y2023]):
        report = run_sync(paths, store, embedder)
        assert report.unchanged == len(paths) and report.added == report.updated == 0
    assert {r.path: d for d, r in store.doc_records().items()} == ids
    # a changed file updates its own document only
    (y2024 / "policy.md").write_text("# Policy\n\nThe revised 2024 text.")
    report = run_sync([y2024], store, embedder)
    assert report.updated == 1 and report.documents[0]["doc_id"] == "2024/policy.md"
    texts = {c.doc_id: c.text for c in store.get_chunks([cid for cid, _ in store.chunk_metadata()])}
    assert "2023 text" in texts["policy.md"] and "revised 2024" in texts["2024/policy.md"]


def test_a_moved_folder_keeps_its_ids(
    tmp_path: Path, store: ChromaStore, embedder: Embedder
) -> None:
    old = write_corpus(tmp_path / "old")
    run_sync([old], store, embedder)
    before = sorted(store.doc_records())
    new = old.rename(tmp_path / "new")  # the old files are gone: their ids pass to the new ones
    report = run_sync([new], store, embedder)
    assert (report.unchanged, report.added) == (N_DOCS, 0)
    records = store.doc_records()
    assert sorted(records) == before
    assert all(r.path.startswith(str(new.resolve())) for r in records.values())
