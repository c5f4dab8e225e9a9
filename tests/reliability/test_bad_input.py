"""Hostile and odd files in one ingest: each gets a clear report entry or loads correctly,
the rest of the ingest completes, and the store stays consistent.

What a user should expect, case by case, is the table below. Legitimate text in another
Unicode encoding loads; a file that cannot be text (binary, encrypted, scanned, corrupt, a
zip bomb, a pipe or socket) is reported with what to do about it. Two names for one file:
a hard link is two documents (two directory entries the user can delete separately), a
symbolic link inside the same root is one document named after the real file.

Unreadable files: the tests run as root, for whom chmod 000 changes nothing, so "cannot be
read" is a named pipe (opening it would block forever: the loader must refuse it without
reading), a Unix socket (open() fails with ENXIO for everyone, root included) and dangling or
looping symbolic links (ENOENT / ELOOP). chmod 000 is in the table too, with the outcome that
depends on who runs it.

The 10 MB one-line files are checked at the loader and chunker (their ~12,000 chunks would
take the bundled model many minutes to embed here); the 50 MB file goes through a whole
ingest in test_memory.py.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.chunking import chunk_document
from ingest.embedding import Embedder
from ingest.loaders import load_document
from ingest.store import ChromaStore
from ingest.sync import IngestReport, sync
from tests.reliability import bad_inputs as make
from tests.reliability.checks import assert_consistent

pytestmark = pytest.mark.slow

AS_ROOT = os.geteuid() == 0


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], Path]
    error: str | None = None  # the report's message for the file; None: it loads
    loads: tuple[str, ...] = ()  # file names (in the case folder) that become documents
    text: str = ""  # found in the loaded document's chunks


CASES = [
    Case("zero-bytes", make.zero_bytes, error="empty file"),
    Case("whitespace-only", make.whitespace_only, error="empty file"),
    Case("control-characters-only", make.control_characters_only, error="no text found"),
    Case("binary-named-txt", make.binary_as_text, error="binary content, not text"),
    Case("elf-named-md", make.elf_as_markdown, error="binary content, not text"),
    Case("latin1-text", make.latin1_text, loads=("latin1.txt",), text="naïve café meeting"),
    Case("undecodable-text", make.undecodable_text, error="no other text encoding decodes it"),
    Case("utf16-bom", make.utf16_with_bom, loads=("utf16-bom.txt",), text="Ms. Ibáñez"),
    Case("utf16le-no-bom", make.utf16_without_bom, loads=("utf16-nobom.md",), text="Tegucigalpa"),
    Case(
        "utf16be-no-bom",
        make.utf16_big_endian_without_bom,
        loads=("utf16be-nobom.txt",),
        text="Quito seminar",
    ),
    Case("utf16-truncated", make.truncated_utf16, error="not valid UTF-16"),
    Case("truncated-pdf", make.truncated_pdf, error="corrupt or unreadable PDF"),
    Case("corrupt-pdf", make.corrupt_pdf, error="corrupt or unreadable PDF"),
    Case("pdf-header-only", make.pdf_header_only, error="corrupt or unreadable PDF"),
    Case("encrypted-pdf", make.encrypted_pdf, error="encrypted PDF; remove the password"),
    Case(
        "pdf-owner-password-only",
        make.pdf_with_owner_password_only,
        loads=("owner-only.pdf",),
        text="protection of civilians",
    ),
    Case(
        "aes-pdf-owner-password-only",
        make.aes_pdf_with_owner_password_only,
        loads=("aes-owner-only.pdf",),  # PDFium decrypts AES itself
        text="protection of civilians",
    ),
    Case("pdf-without-text-layer", make.pdf_without_text_layer, error="PDF has no text layer"),
    Case("docx-zip-bomb", make.docx_zip_bomb, error="possible zip bomb, not ingested"),
    Case("docx-zip-bomb-forged-size", make.docx_zip_bomb_lying_header, error="corrupt DOCX"),
    Case("old-doc-named-docx", make.docx_not_a_zip, error="old Word .doc file"),
    Case("docx-without-document", make.docx_without_document_part, error="corrupt DOCX"),
    Case(
        "html-100k-nested-divs",
        make.deeply_nested_html,
        loads=("nested.html",),
        text="Lima liaison desk",
    ),
    Case(
        "yaml-alias-bomb-front-matter",
        make.yaml_billion_laughs,
        loads=("laughs.md",),
        text="laughing memo is ordinary",
    ),
    Case("symlink-loop", make.symlink_loop, error="broken or looping symbolic link"),
    Case("dangling-symlink", make.dangling_symlink, error="broken or looping symbolic link"),
    Case("fifo", make.fifo, error="a named pipe, not a regular file"),
    Case("unix-socket", make.unix_socket, error="a socket, not a regular file"),
    Case(
        "chmod-000",
        make.mode_000,
        error=None if AS_ROOT else "permission denied",
        loads=("locked.txt",) if AS_ROOT else (),
        text="Asuncion roster" if AS_ROOT else "",
    ),
    Case(
        "same-file-hard-linked",
        make.hard_link_copy,
        loads=("original.md", "twin.md"),
        text="Montevideo exercise",
    ),
    Case("same-file-symlinked", make.symlink_alias, loads=("target.md",), text="Cusco exercise"),
    Case(
        "spaces-and-unicode-name",
        make.name_with_spaces_and_unicode,
        loads=("Informe final – Bogotá 2023 ✓.md",),
        text="Bogotá report",
    ),
    Case(
        "double-dots-in-names",
        make.name_with_dots,
        loads=("sub..dir/notes..v2..md",),
        text="Panama drill",
    ),
    Case("name-not-utf8", make.name_not_utf8, error="the file name is not valid UTF-8"),
    Case("unsupported-type", make.unsupported_type, error="unsupported file type '.svg'"),
    Case(
        "html-undeclared-legacy-charset",
        make.html_legacy_charset_undeclared,
        loads=("legacy.html",),
        text="Café crème au Québec.",
    ),
]
CONTROL = "control/good.md"  # an ordinary file that must load whatever the others do


@dataclass
class Ingest:
    root: Path
    store: ChromaStore
    first: IngestReport
    second: IngestReport
    seconds: float


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("the ingest hung on a bad input")


def _sync_bounded(root: Path, store: ChromaStore, embedder: Embedder) -> IngestReport:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(240)
    try:
        return sync([root], store, embedder, chunk_size=300, chunk_overlap=60)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Ingest]:
    root = tmp_path_factory.mktemp("bad") / "corpus"
    for case in CASES:
        (root / case.id).mkdir(parents=True)
        case.build(root / case.id)
    (root / CONTROL).parent.mkdir()
    (root / CONTROL).write_text("# Control\n\nThe control memo names the Oruro depot.\n")
    store = ChromaStore(path=root.parent / "chroma")
    started = time.perf_counter()
    first = _sync_bounded(root, store, embedder)
    seconds = time.perf_counter() - started
    second = _sync_bounded(root, store, embedder)
    yield Ingest(root, store, first, second, seconds)
    for path in root.rglob("*"):  # let pytest's temp cleanup remove everything
        if not path.is_symlink() and path.is_dir():
            path.chmod(0o755)


def _errors_for(report: IngestReport, folder: Path) -> list[str]:
    prefix = str(folder) + os.sep
    return [f["error"] for f in report.failed if f["path"].startswith(prefix)]


def test_the_table_has_enough_cases() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_bad_input_is_reported_or_loads(ingest: Ingest, case: Case) -> None:
    folder = ingest.root / case.id
    errors = _errors_for(ingest.first, folder)
    records = ingest.store.doc_records()
    loaded = sorted(d.removeprefix(case.id + "/") for d in records if d.startswith(case.id + "/"))
    if case.error is not None:
        assert errors, f"no report entry for {case.id}: {ingest.first.failed}"
        assert all(case.error in e for e in errors), errors
        assert all(len(e.splitlines()) == 1 and "Traceback" not in e for e in errors)
    else:
        assert errors == [], errors
    assert loaded == sorted(case.loads)
    if case.text:
        texts = [c.text for c in ingest.store.iter_chunks() if c.doc_id.startswith(case.id + "/")]
        assert any(case.text in t for t in texts), texts[:3]


def test_the_rest_of_the_ingest_completes(ingest: Ingest) -> None:
    assert CONTROL in ingest.store.doc_records()
    loaded = sum(len(c.loads) for c in CASES) + 1
    assert ingest.first.added == loaded
    assert ingest.first.seconds < 240


def test_the_store_stays_consistent(ingest: Ingest) -> None:
    assert_consistent(ingest.store)


def test_a_second_run_changes_nothing_and_reports_the_same(ingest: Ingest) -> None:
    assert (ingest.second.added, ingest.second.updated, ingest.second.embedded) == (0, 0, 0)
    assert ingest.second.unchanged == ingest.first.added
    assert ingest.second.failed == ingest.first.failed


def test_report_paths_are_printable_text(ingest: Ingest) -> None:
    import json

    for entry in ingest.first.failed:
        entry["path"].encode("utf-8")  # no lone surrogates from undecodable names
    json.dumps(ingest.first.as_dict(), ensure_ascii=False).encode("utf-8")
    bad_name = [f["path"] for f in ingest.first.failed if "not valid UTF-8" in f["error"]]
    assert any(p.endswith("r\\xe9sum\\xe9.txt") for p in bad_name), bad_name


LONG_LINES = [make.one_long_line, make.one_long_markdown_line]


@pytest.mark.parametrize("build", LONG_LINES, ids=["10mb-line-txt", "10mb-line-markdown"])
def test_a_10_mb_line_loads_and_chunks_in_linear_time(tmp_path: Path, build: Any) -> None:
    path = build(tmp_path)
    started = time.perf_counter()
    document = load_document(path, path.name)
    chunks = chunk_document(document, 900, 150)
    seconds = time.perf_counter() - started
    assert seconds < 90, f"{seconds:.0f} s: something is quadratic"
    assert len(document.text) > 9_000_000
    assert all(0 < c.end - c.start <= 900 for c in chunks)
    assert all(c.text == document.text[c.start : c.end] for c in chunks[:: len(chunks) // 50])
    assert chunks[-1].end == len(document.text)
