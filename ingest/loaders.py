"""File loaders: each turns one file into normalised text with locations, or raises LoadError.

The formats live in their own modules (``markdown``, ``webpage``, ``pdf``, ``word``, ``ocr``);
this one reads the file safely, decodes text files and picks the loader by file type. The
registry ``FORMATS`` is the one list of what can be ingested: its suffixes, a quick look at the
bytes (for uploads) and its loader. Adding a format is one new entry there.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.document import Document
from ingest.encoding import UTF8, Decoded, decode, decode_text
from ingest.errors import LoadError
from ingest.markdown import load_markdown as _render_markdown
from ingest.ocr import load_image as _render_image
from ingest.ocr import read_image
from ingest.pdf import load_pdf as _render_pdf
from ingest.text import load_text as _render_text
from ingest.webpage import decode_html
from ingest.webpage import load_html as _render_html
from ingest.word import load_docx as _render_docx

__all__ = [
    "FORMATS",
    "SUPPORTED_LIST",
    "SUPPORTED_SUFFIXES",
    "Format",
    "LoadError",
    "LoadOptions",
    "decode_text",
    "format_for",
    "load_document",
]

MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class LoadOptions:
    """How files are read; the defaults suit most users."""

    ocr: bool = True  # run Tesseract on PDF pages and images without a text layer
    ocr_languages: str = "eng+spa"  # Tesseract language packs, "+"-joined


def _with_encoding(document: Document, decoded: Decoded) -> Document:
    if decoded.encoding != UTF8:
        document.metadata["encoding"] = decoded.encoding
    return document


def load_markdown(path: Path, doc_id: str, data: bytes, options: LoadOptions) -> Document:
    decoded = decode(data)
    return _with_encoding(_render_markdown(path, doc_id, decoded), decoded)


def load_text(path: Path, doc_id: str, data: bytes, options: LoadOptions) -> Document:
    decoded = decode(data)
    return _with_encoding(_render_text(path, doc_id, decoded), decoded)


def load_html(path: Path, doc_id: str, data: bytes, options: LoadOptions) -> Document:
    decoded = decode_html(data)
    return _with_encoding(_render_html(path, doc_id, decoded), decoded)


def load_pdf(path: Path, doc_id: str, data: bytes, options: LoadOptions) -> Document:
    ocr_page = functools.partial(read_image, wanted=options.ocr_languages) if options.ocr else None
    return _render_pdf(path, doc_id, data, ocr_page)


def load_image(path: Path, doc_id: str, data: bytes, options: LoadOptions) -> Document:
    if not options.ocr:
        raise LoadError(
            "an image: its text can only be read by OCR, which is turned off (ASSISTANT_OCR)"
        )
    return _render_image(path, doc_id, data, options.ocr_languages)


def load_docx(path: Path, doc_id: str, data: bytes, options: LoadOptions) -> Document:
    return _render_docx(path, doc_id, data)


Loader = Callable[[Path, str, bytes, LoadOptions], Document]
Sniff = Callable[[bytes, str], "str | None"]  # (data, file name) -> why it is not this format


@dataclass(frozen=True)
class Format:
    """One file format: the suffixes it goes by, its loader, and optionally a cheap look at
    the bytes that says why a file is not really this format (uploads check it before they
    store anything)."""

    name: str
    suffixes: tuple[str, ...]
    load: Loader
    sniff: Sniff | None = None

    def problem(self, data: bytes, name: str) -> str | None:
        return self.sniff(data, name) if self.sniff else None


def _decodes(data: bytes, name: str) -> str | None:
    try:
        decode_text(data, name)
    except LoadError as exc:
        return str(exc)
    return None


def _pdf_header(data: bytes, name: str) -> str | None:
    return None if b"%PDF-" in data[:1024] else "not a PDF file (no %PDF header)"


def _zip_package(data: bytes, name: str) -> str | None:
    return None if data.startswith(b"PK\x03\x04") else "not a DOCX file (not a ZIP package)"


FORMATS: tuple[Format, ...] = (
    Format("text", (".txt", ".text"), load_text, _decodes),
    Format("Markdown", (".md", ".markdown"), load_markdown, _decodes),
    Format("HTML", (".html", ".htm"), load_html, _decodes),
    Format("PDF", (".pdf",), load_pdf, _pdf_header),
    Format("Word (DOCX)", (".docx",), load_docx, _zip_package),
    Format("image (OCR)", (".png", ".jpg", ".jpeg", ".tif", ".tiff"), load_image),
)
_BY_SUFFIX = {suffix: fmt for fmt in FORMATS for suffix in fmt.suffixes}
SUPPORTED_SUFFIXES = frozenset(_BY_SUFFIX)
SUPPORTED_LIST = ", ".join(sorted(SUPPORTED_SUFFIXES))  # for messages and help texts


def format_for(name: str | Path) -> Format | None:
    """The format of a file, by its suffix; None when it is not one that can be ingested."""
    return _BY_SUFFIX.get(Path(name).suffix.lower())


_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def _not_regular(mode: int) -> LoadError:
    kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return LoadError(f"{kind}, not a regular file; only regular files are ingested")


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file under the size limit. A FIFO would block a plain read
    forever, so the file is opened non-blocking and checked before anything is read."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(before.st_mode)  # a socket cannot even be opened (ENXIO)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):  # swapped for something else since the stat
            raise _not_regular(info.st_mode)
        if info.st_size > MAX_FILE_BYTES:
            raise LoadError(
                f"file is {info.st_size // (1024 * 1024)} MB, over the "
                f"{MAX_FILE_BYTES // (1024 * 1024)} MB limit; split it into smaller files"
            )
        return handle.read(MAX_FILE_BYTES + 1)


def load_document(path: Path, doc_id: str, options: LoadOptions | None = None) -> Document:
    """Read and parse one file. Raises LoadError with a message for the ingest report."""
    fmt = format_for(path)
    if fmt is None:
        raise LoadError(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {SUPPORTED_LIST}"
        )
    try:
        data = _read_regular_file(path)
    except PermissionError:
        raise LoadError("permission denied; make the file readable and ingest again") from None
    except OSError as exc:
        raise LoadError(f"cannot read file ({exc.strerror or exc})") from None
    if not data or data.isspace():  # not data.strip(): that would copy a big file
        raise LoadError("empty file; nothing to ingest")
    document = fmt.load(path, doc_id, data, options or LoadOptions())
    if not document.text.strip():
        raise LoadError("no text found in the file; nothing to ingest")
    return document
