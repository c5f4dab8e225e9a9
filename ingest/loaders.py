"""File loaders: each turns one file into normalised text with locations, or raises LoadError."""

from __future__ import annotations

import codecs
import datetime
import html
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ingest.document import Block, Document
from ingest.normalize import assemble


class LoadError(Exception):
    """A file that cannot be ingested; the message says why and what to do."""


MAX_FILE_BYTES = 200 * 1024 * 1024

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,3}[.)]\s+|\(\w{1,4}\)\s+)")
_INLINE_TAG = re.compile(
    r"</?(?:span|u|b|i|em|strong|a|sup|sub|font|small|big|mark|abbr|cite|code)\b[^<>]*>",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(r"<(?:[a-zA-Z/!][^<>]*)>", re.DOTALL)
_STRAY_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\w)|(?<=[\w.,;:!?])\*(?![\w*])")
# Linear-time on any input: a span cannot contain its own opening character, so an opener
# without a closer scans only to the next opener (a 10 MB line of "*a [b `c" is not quadratic).
_MD_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_MD_EMPHASIS = re.compile(
    r"(\*\*?)(?=[^\s*])([^*]+?)(?<=[^\s*])\1"
    r"|__(?=[^\s_])((?:[^_]|_(?!_))+?)(?<=[^\s_])__"
    r"|`(?=[^\s`])([^`]+?)(?<=[^\s`])`"
)
MAX_HEADING_CHARS = 1000  # a longer line is a paragraph, whatever it starts with
_BLANK = re.compile(r"\n\s*\n")
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MD_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")


def decode_text(data: bytes, name: str) -> str:
    """Decode a text file: UTF-8 (with or without BOM) or UTF-16 (BOM or evident); else error."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return _strict(data, "utf-32", name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", name)
    if len(data) >= 4 and b"\x00" in data[:4096]:
        sample = data[:4096]
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        half = len(sample) // 2
        if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
            return _strict(data, "utf-16-le", name)
        if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
            return _strict(data, "utf-16-be", name)
        raise LoadError("binary content, not text; only text, Markdown, HTML, PDF and DOCX load")
    return _strict(data, "utf-8-sig", name)


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not valid {encoding.replace('-sig', '').upper()} (bad byte at offset {exc.start}); "
            "re-save the file as UTF-8 and ingest it again"
        ) from None


def _paragraph_blocks(text: str, page: int | None = None) -> list[Block]:
    """Split plain text into blocks. Blank lines separate blocks; within a paragraph, wrapped
    lines are joined, while a list item, a hard break (two trailing spaces) or a short line
    that ends a sentence starts a new block."""
    blocks: list[Block] = []
    for para in _BLANK.split(text):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        width = max(len(ln.rstrip()) for ln in lines)
        current: list[str] = []
        for index, line in enumerate(lines):
            if current and _starts_block(lines[index - 1], line, width):
                blocks.append(Block(" ".join(current), page=page))
                current = []
            current.append(line.strip())
        blocks.append(Block(" ".join(current), page=page))
    return blocks


def _starts_block(previous: str, line: str, width: int) -> bool:
    if _LIST_ITEM.match(line) or previous.endswith("  ") or width < 40:
        return True
    prev = previous.rstrip()
    return len(prev) < 0.7 * width and prev.endswith((".", ":", ";", "!", "?"))


def _markdown_inline(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    for _ in range(2):
        text = _MD_EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or m.group(4), text)
    text = _STRAY_EMPHASIS.sub("", text)
    return html.unescape(text)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    start = re.match(r"---[ \t]*\r?\n", text)
    if start is None:
        return {}, text
    end = re.search(r"^---[ \t]*\r?$", text[start.end() :], re.MULTILINE)
    if end is None:
        return {}, text
    raw = text[start.end() : start.end() + end.start()]
    body = text[start.end() + end.end() :]
    try:
        meta = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):  # a thematic break, not front matter: keep the text
        return {}, text
    return meta, body


def load_markdown(path: Path, doc_id: str, data: bytes) -> Document:
    meta, body = _split_front_matter(decode_text(data, path.name))
    body = _TAG.sub(" ", _INLINE_TAG.sub("", body))
    blocks: list[Block] = []
    first_heading = ""
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.extend(
                Block(_markdown_inline(b.text)) for b in _paragraph_blocks("\n".join(para))
            )
            para.clear()

    def add_heading(text: str, level: int) -> None:
        nonlocal first_heading
        heading = _markdown_inline(text)
        first_heading = first_heading or heading
        blocks.append(Block(heading, heading_level=level))

    fence = ""  # the opening marker while inside a fenced code block
    code: list[str] = []
    for line in body.splitlines():
        marker = _MD_FENCE.match(line)
        if fence:
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                blocks.append(Block(" ".join(code)))  # verbatim: no heading or emphasis rules
                code.clear()
                fence = ""
            else:
                code.append(line)
            continue
        if marker:
            flush()
            fence = marker.group(1)
            continue
        match = _HEADING.match(line.strip()) if len(line) <= MAX_HEADING_CHARS else None
        underline = _MD_SETEXT.match(line)
        if match:
            flush()
            add_heading(match.group(2), len(match.group(1)))
        elif underline and para:  # "Title" over "=====" or "-----"
            text = para.pop()
            flush()
            add_heading(text.strip(), 1 if underline.group(1)[0] == "=" else 2)
        elif not line.strip() or _MD_RULE.match(line):
            flush()
        else:
            para.append(line)
    flush()
    if code:  # an unclosed fence runs to the end of the file
        blocks.append(Block(" ".join(code)))
    title = _meta_text(meta.get("title")) or first_heading or path.stem
    return assemble(
        doc_id,
        blocks,
        title=title,
        source=_meta_text(meta.get("source_url")) or _meta_text(meta.get("url")) or str(path),
        date=_meta_text(meta.get("date")),
    )


def _meta_text(value: Any) -> str:
    """A front-matter scalar as text; lists and mappings are ignored, not stringified (a YAML
    alias bomb is cheap to parse but expands to billions of items when printed)."""
    if isinstance(value, str | int | float | datetime.date) and not isinstance(value, bool):
        return str(value)[:1000]
    return ""


def load_text(path: Path, doc_id: str, data: bytes) -> Document:
    return assemble(
        doc_id, _paragraph_blocks(decode_text(data, path.name)), title=path.stem, source=str(path)
    )


_HTML_DROP = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "template",
    "svg",
    "form",
    "button",
    "iframe",
]
# Phrasing elements continue the current paragraph; every other element starts a new block.
_HTML_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "label",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
    ]
)
_HTML_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _decode_html(data: bytes, name: str) -> str:
    """Unicode as for text files; failing that, the charset the page declares in a <meta>."""
    try:
        return decode_text(data, name)
    except LoadError:
        declared = _META_CHARSET.search(data[:4096])
        if declared is None:
            raise
        encoding = declared.group(1).decode("ascii").lower()
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise LoadError(
                f"the page declares an unknown charset {encoding!r}; re-save it as UTF-8"
            ) from None
        return _strict(data, encoding, name)


_FLUSH = object()


def load_html(path: Path, doc_id: str, data: bytes) -> Document:
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, Tag

    text = _decode_html(data, path.name)
    try:
        soup = BeautifulSoup(text, "html.parser")
        title_tag = soup.find("title")
        title = title_tag.get_text(" ", strip=True) if title_tag else ""
        for tag in soup.find_all(_HTML_DROP):
            tag.decompose()
        for tag in soup.find_all(["head", "title", "meta", "link"]):
            tag.decompose()
        for tag in soup.find_all("br"):
            tag.replace_with(" ")
        blocks: list[Block] = []
        first_heading = ""
        # Text nodes carry their own spacing, so pieces are joined with nothing: "<b>a</b>."
        # must stay "a.", not "a ." (quotes are shown as verbatim source text).
        inline: list[str] = []

        def flush() -> None:
            joined = "".join(inline)
            if joined.strip():
                blocks.append(Block(joined))
            inline.clear()

        # An explicit stack, not recursion: broken pages nest thousands of unclosed tags deep.
        # Each entry is a node to visit, or _FLUSH to end the block a block element opened.
        stack: list[Any] = [iter(soup.children)]
        while stack:
            top = stack[-1]
            if top is _FLUSH:
                stack.pop()
                flush()
                continue
            child = next(top, None)
            if child is None:
                stack.pop()
            elif isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, doctype or CDATA
                    inline.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.lower()
                if name in _HTML_HEADINGS:
                    flush()
                    heading = " ".join(child.get_text("").split())
                    if heading:
                        first_heading = first_heading or heading
                        blocks.append(Block(heading, heading_level=int(name[1])))
                elif name in _HTML_INLINE:
                    stack.append(iter(child.children))
                else:
                    flush()
                    stack.extend([_FLUSH, iter(child.children)])
        flush()
    except RecursionError:
        raise LoadError("HTML nested too deeply to parse; simplify the file") from None
    return assemble(doc_id, blocks, title=title or first_heading or path.stem, source=str(path))


def load_pdf(path: Path, doc_id: str, data: bytes) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise LoadError("encrypted PDF; remove the password and ingest it again")
            except (LoadError, DependencyError):
                raise
            except Exception:
                raise LoadError("encrypted PDF; remove the password and ingest it again") from None
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            blocks.extend(_paragraph_blocks(page.extract_text() or "", page=number))
        info = reader.metadata
        title = str(info.title) if info is not None and info.title else ""
    except LoadError:
        raise
    except DependencyError:  # AES encryption, even with no password to open it
        raise LoadError(
            "AES-encrypted PDF: reading it needs the 'cryptography' package (pip install "
            "cryptography), or save the PDF without encryption"
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(f"corrupt or unreadable PDF ({exc}); re-export it and try again") from None
    if not any(b.text.strip() for b in blocks):
        raise LoadError("PDF has no text layer (scanned?); run OCR on it first")
    return assemble(doc_id, blocks, title=title or path.stem, source=str(path))


MAX_DOCX_UNCOMPRESSED = 100 * 1024 * 1024


def load_docx(path: Path, doc_id: str, data: bytes) -> Document:
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: the Word 97-2003 format
            raise LoadError(
                "an old Word .doc file named .docx; open it in Word and save it as .docx"
            ) from None
        raise LoadError("corrupt DOCX (not a valid zip archive); re-save it from Word") from None
    if total > MAX_DOCX_UNCOMPRESSED:
        raise LoadError(
            f"DOCX expands to {total // (1024 * 1024)} MB (limit "
            f"{MAX_DOCX_UNCOMPRESSED // (1024 * 1024)} MB); possible zip bomb, not ingested"
        )
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many types for broken packages
        raise LoadError(f"corrupt DOCX ({type(exc).__name__}); re-save it from Word") from None
    from docx.table import Table

    blocks: list[Block] = []
    # body order, so a table sits under the heading it follows, not after the last section
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                blocks.append(Block(" | ".join(cell.text for cell in row.cells)))
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = 0
        if style == "Title":
            level = 1
        elif style.startswith("Heading"):
            digits = "".join(ch for ch in style if ch.isdigit())
            level = min(int(digits), 6) if digits else 1
        blocks.append(Block(item.text, heading_level=level))
    title = document.core_properties.title or next(
        (b.text for b in blocks if b.heading_level and b.text.strip()), path.stem
    )
    return assemble(doc_id, blocks, title=title, source=str(path))


Loader = Callable[[Path, str, bytes], Document]
LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
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


def load_document(path: Path, doc_id: str) -> Document:
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
    document = loader(path, doc_id, data)
    if not document.text.strip():
        raise LoadError("no text found in the file; nothing to ingest")
    return document
