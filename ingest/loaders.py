"""File loaders: each turns one file into normalised text with locations, or raises LoadError.

The formats live in their own modules (``markdown``, ``webpage``, ``pdf``, ``word``, ``ocr``);
this one reads the file safely, decodes text files and picks the loader by file type.
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

__all__ = ["SUPPORTED_SUFFIXES", "LoadError", "LoadOptions", "decode_text", "load_document"]

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
LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".png": load_image,
    ".jpg": load_image,
    ".jpeg": load_image,
    ".tif": load_image,
    ".tiff": load_image,
}
SUPPORTED_SUFFIXES = frozenset(LOADERS)


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
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(
            f"unsupported file type {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    try:
        data = _read_regular_file(path)
    except PermissionError:
        raise LoadError("permission denied; make the file readable and ingest again") from None
    except OSError as exc:
        raise LoadError(f"cannot read file ({exc.strerror or exc})") from None
    if not data or data.isspace():  # not data.strip(): that would copy a big file
        raise LoadError("empty file; nothing to ingest")
    document = loader(path, doc_id, data, options or LoadOptions())
    if not document.text.strip():
        raise LoadError("no text found in the file; nothing to ingest")
    return document
