"""PDF: each page's text as a reader reads it, without the page furniture.

PDFium (through pypdfium2, the engine of Chrome's PDF viewer) gives every character with its
box, fast: a 100-page report in under two seconds, where pdfplumber took nineteen. On pages
that draw lines, pdfplumber's table finder (pdfminer.six underneath) finds the ruled tables.
``ingest.layout`` then puts the words in reading order, drops running headers, footers and
page numbers, and joins lines and hyphenated words into paragraphs. Pages without any text
are handed to OCR (``ingest.ocr``) when it is on.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.document import Block, Document
from ingest.errors import LoadError
from ingest.layout import (
    Line,
    compounds,
    furniture,
    group_rows,
    paragraphs,
    reading_order,
    scanned_blocks,
)
from ingest.normalize import assemble
from ingest.titles import choose_title, headline


def _tables(page: Any) -> list[Line]:
    """The ruled tables of a pdfplumber page, each with its rows as text."""
    found = []
    for table in page.find_tables():
        rows = [
            " | ".join(" ".join((cell or "").split()) for cell in row)
            for row in table.extract()
            if any((cell or "").strip() for cell in row)
        ]
        if rows:
            x0, top, x1, bottom = table.bbox
            found.append(Line("", top, bottom, x0, x1, rows=rows))
    return found


_BREAKS = frozenset(" \t\r\n\u00a0\u2002\u2003\u2009")
_SOFT_BREAK = "\ufffe"  # PDFium's mark for a word hyphenated across a line end


def _words(textpage: Any, height: float) -> list[dict[str, Any]]:
    """Words with their boxes (top-down coordinates, as pdfplumber gives them). Rotated
    characters (a stamp up the margin) are left out: they belong to no line."""
    import pypdfium2.raw as pdfium_c

    text = textpage.get_text_range()
    words: list[dict[str, Any]] = []
    chars: list[str] = []
    box: list[float] = []

    def close(suffix: str = "") -> None:
        if chars:
            words.append(
                {
                    "text": "".join(chars) + suffix,
                    "x0": box[0],
                    "x1": box[1],
                    "top": box[2],
                    "bottom": box[3],
                }
            )
            chars.clear()

    for index in range(min(len(text), textpage.count_chars())):
        char = text[index]
        if char == _SOFT_BREAK:
            close("-")
            continue
        if char in _BREAKS or char == "\ufeff":
            close()
            continue
        angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, index)
        if 0.05 < angle < 6.23:  # radians; upright text is 0 (or a hair under 2 pi)
            close()
            continue
        left, bottom, right, top = textpage.get_charbox(index, loose=True)
        top, bottom = height - top, height - bottom
        size = bottom - top
        if chars and (left - box[1] > 0.25 * size or abs(bottom - box[3]) > 0.5 * size):
            close()  # a jump along or across the line: a new word
        if not chars:
            box = [left, right, top, bottom]
        else:
            box = [min(box[0], left), max(box[1], right), min(box[2], top), max(box[3], bottom)]
        chars.append(char)
    close()
    return words


def _page_lines(page: Any, tables: list[Line]) -> list[Line]:
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        words = [
            w
            for w in _words(textpage, height)
            if not any(
                t.x0 <= (w["x0"] + w["x1"]) / 2 <= t.x1
                and t.top <= (w["top"] + w["bottom"]) / 2 <= t.bottom
                for t in tables
            )
        ]
    finally:
        textpage.close()
    return reading_order(group_rows(words), tables, float(width))


def _draws_lines(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    paths = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2)
    return sum(1 for _ in zip(range(3), paths, strict=False)) >= 3


OcrPage = Callable[[Any], str]  # a page image -> its text


def load_pdf(path: Path, doc_id: str, data: bytes, ocr_page: OcrPage | None) -> Document:
    """``ocr_page`` reads pages that have no text at all; None when OCR is off."""
    import pypdfium2 as pdfium

    pages: list[tuple[float, list[Line]]] = []
    scanned: dict[int, str] = {}  # page index -> OCR text
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise LoadError("encrypted PDF; remove the password and ingest it again") from None
        raise _corrupt(exc) from None
    plumber: Any = None  # opened for the first page that draws lines
    try:
        info = pdf.get_metadata_dict()
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                tables: list[Line] = []
                if _draws_lines(page):
                    plumber = plumber or _open_plumber(data)
                    tables = _plumber_tables(plumber, index)
                lines = _page_lines(page, tables)
                pages.append((float(page.get_height()), lines))
                if not lines and ocr_page is not None and not _has_text(page):
                    scanned[index] = ocr_page(page.render(scale=300 / 72).to_pil())
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise _corrupt(exc) from None
    finally:
        pdf.close()
        if plumber is not None:
            plumber.close()
    drop = furniture(pages)
    hyphenated = compounds(pages)
    blocks: list[Block] = []
    for index, (_, lines) in enumerate(pages):
        if index in scanned:
            blocks.extend(scanned_blocks(scanned[index], index + 1))
            continue
        kept = [line for i, line in enumerate(lines) if (index, i) not in drop]
        blocks.extend(paragraphs(kept, index + 1, hyphenated))
    if not any(b.text.strip() for b in blocks):
        if ocr_page is None:
            raise LoadError(
                "PDF has no text layer (scanned?) and OCR is turned off; turn OCR on "
                "(ASSISTANT_OCR=true) or run OCR on it first"
            )
        raise LoadError("PDF has no text layer and OCR found no text in it (blank or pictures?)")
    title = choose_title(str(info.get("Title") or ""), headline(blocks), fallback=path.stem)
    return assemble(doc_id, blocks, title=title, source=str(path))


def _has_text(page: Any) -> bool:
    textpage = page.get_textpage()
    try:
        return bool(textpage.get_text_range().strip())
    finally:
        textpage.close()


def _open_plumber(data: bytes) -> Any:
    import pdfplumber

    return pdfplumber.open(io.BytesIO(data))


def _plumber_tables(plumber: Any, index: int) -> list[Line]:
    """Tables of one page; a page pdfplumber cannot parse simply has none."""
    try:
        page = plumber.pages[index]
        try:
            return _tables(page)
        finally:
            page.close()
    except Exception:  # pdfminer raises many types on odd pages; the text is still read
        return []


def _corrupt(exc: object) -> LoadError:
    reason = str(exc) or type(exc).__name__
    return LoadError(f"corrupt or unreadable PDF ({reason}); re-export it and try again")
