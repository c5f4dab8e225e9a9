"""PDF: each page's text as a reader reads it, without the page furniture.

PDFium (through pypdfium2, the engine of Chrome's PDF viewer) gives every character with its
box, fast: a 100-page report in about a second, where pdfplumber took twenty. On pages that
draw lines, pdfplumber's table finder (pdfminer.six underneath) finds the ruled tables. This
module then
- reads a two-column page column by column: a vertical gutter free of words splits it,
  and a line or table across the gutter (a title, a figure caption) separates one band of
  columns from the next;
- drops running headers and footers (a line in the top or bottom margin that recurs on
  other pages, digits aside: "Ley General ... Última reforma DOF 01-04-2024") and page
  numbers ("12", "- 12 -", "Page 12 of 40", "325 de 402");
- joins a word hyphenated across a line end ("Constitu-" + "ción"), unless the document
  writes that pair with a hyphen elsewhere ("well-known");
- gives each table row as one block, "cell | cell", where the table stands.
Pages without any text are handed to OCR (``ingest.ocr``) when it is on.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.document import Block, Document
from ingest.errors import LoadError
from ingest.normalize import assemble
from ingest.titles import choose_title, headline

EDGE = 0.1  # the top and bottom tenth of a page hold its running header and footer
EDGE_LINES = 3  # of which at most this many lines at either end
MAX_FURNITURE_CHARS = 160
MIN_COLUMN_WORDS = 4  # median words per line of a text column
_PAGE_NUMBER = re.compile(
    r"^(?:(?:page|p[aá]gina|p[aá]g\.?|p\.)\s*)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*"
    r"[-–—)\]]?\s*(?:(?:of|de|/)\s*\d{1,4})?$",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^(?:[•·▪◦●■\-–*]\s|\(?\w{1,3}[.)]\s)")
_HYPHENATED = re.compile(r"([^\W\d_]+)[-\u00ad]$")
_COMPOUND = re.compile(r"\b([^\W\d_]+)-([^\W\d_]+)\b")
_SENTENCE_END = (".", ":", ";", "!", "?")


@dataclass
class _Line:
    text: str
    top: float
    bottom: float
    x0: float
    x1: float
    column: int = 0  # 0 = the whole width, 1 = left, 2 = right
    rows: list[str] = field(default_factory=list)  # set for a table: its rows


def _rows(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Words grouped into visual rows by their vertical position."""
    rows: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if rows and abs(word["top"] - rows[-1][0]["top"]) <= max(2.0, 0.4 * _height(word)):
            rows[-1].append(word)
        else:
            rows.append([word])
    return [sorted(row, key=lambda w: w["x0"]) for row in rows]


def _height(word: dict[str, Any]) -> float:
    return float(word["bottom"] - word["top"])


def _line(words: list[dict[str, Any]], column: int = 0) -> _Line:
    return _Line(
        " ".join(w["text"] for w in words),
        min(w["top"] for w in words),
        max(w["bottom"] for w in words),
        min(w["x0"] for w in words),
        max(w["x1"] for w in words),
        column,
    )


def _gutter(rows: list[list[dict[str, Any]]], width: float) -> float | None:
    """The x of a vertical gap between two columns of text, or None for one column."""
    words = [w for row in rows for w in row]
    if len(rows) < 8 or len(words) < 40:
        return None
    lo, hi = int(width * 0.3), int(width * 0.7)
    crossing = [0] * (hi - lo + 1)
    for row in rows:  # how many rows have a word over each x in the middle of the page
        seen: set[int] = set()
        for w in row:
            seen.update(range(max(int(w["x0"]), lo), min(int(w["x1"]), hi) + 1))
        for x in seen:
            crossing[x - lo] += 1
    allowed = max(1, len(rows) // 10)  # titles and captions may run across the gutter
    best: tuple[int, int] = (0, 0)  # (length, start) of the widest free band
    start = None
    for i, count in enumerate([*crossing, allowed + 1]):
        if count <= allowed and start is None:
            start = i
        elif count > allowed and start is not None:
            best = max(best, (i - start, start))
            start = None
    if best[0] < 6:
        return None
    gutter = lo + best[1] + best[0] / 2
    left = sum(1 for w in words if w["x1"] <= gutter)
    right = sum(1 for w in words if w["x0"] >= gutter)
    if min(left, right) < 0.25 * len(words):
        return None
    # columns of prose have several words a line; a list of labels and values has one or two
    # on its left side, and is read row by row
    for side in (lambda w: w["x1"] <= gutter, lambda w: w["x0"] >= gutter):
        counts = [n for n in (sum(1 for w in row if side(w)) for row in rows) if n]
        if statistics.median(counts) < MIN_COLUMN_WORDS:
            return None
    return gutter


def _reading_order(
    rows: list[list[dict[str, Any]]], tables: list[_Line], width: float
) -> list[_Line]:
    """Lines (and tables) in reading order: band by band, left column before right."""
    gutter = _gutter(rows, width)
    items: list[tuple[float, int, Any]] = [(r[0]["top"], 0, r) for r in rows]
    items += [(t.top, 1, t) for t in tables]
    items.sort(key=lambda item: (item[0], item[1]))
    lines: list[_Line] = []
    band: dict[int, list[_Line]] = {1: [], 2: []}

    def flush() -> None:
        lines.extend(band[1] + band[2])
        band[1], band[2] = [], []

    for _, _, item in items:
        if isinstance(item, _Line):  # a table
            if gutter is not None and (item.x1 <= gutter or item.x0 >= gutter):
                band[1 if item.x1 <= gutter else 2].append(item)
                continue
            flush()
            lines.append(item)
            continue
        if gutter is None:
            lines.append(_line(item))
            continue
        if any(w["x0"] < gutter < w["x1"] for w in item):
            flush()
            lines.append(_line(item))
            continue
        left = [w for w in item if w["x1"] <= gutter]
        right = [w for w in item if w["x0"] >= gutter]
        if left:
            band[1].append(_line(left, 1))
        if right:
            band[2].append(_line(right, 2))
    flush()
    return lines


def _tables(page: Any) -> list[_Line]:
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
            found.append(_Line("", top, bottom, x0, x1, rows=rows))
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


def _page_lines(page: Any, tables: list[_Line]) -> list[_Line]:
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
    return _reading_order(_rows(words), tables, float(width))


def _draws_lines(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    paths = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2)
    return sum(1 for _ in zip(range(3), paths, strict=False)) >= 3


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _furniture(pages: list[tuple[float, list[_Line]]]) -> set[tuple[int, int]]:
    """(page index, line index) of running headers, footers and page numbers.

    A candidate is one of the first or last few lines of a page, in its top or bottom
    margin, short, and either a page number or a line that recurs (digits aside) on other
    pages. The run of candidates at the top (or bottom) is dropped only when a gap wider than
    the page's line spacing sets it apart from the body: a document whose pages all open with
    the same sentence keeps it."""
    keys: list[dict[int, str]] = []
    zones: list[dict[int, str]] = []  # line index -> "top" or "bottom"
    for height, lines in pages:
        ends = [*range(min(EDGE_LINES, len(lines))), *range(len(lines) - EDGE_LINES, len(lines))]
        zone = {}
        for i in ends:
            line = lines[i] if i >= 0 else None
            if line is None or line.rows or len(line.text) > MAX_FURNITURE_CHARS:
                continue
            if line.bottom <= height * EDGE:
                zone[i] = "top"
            elif line.top >= height * (1 - EDGE):
                zone[i] = "bottom"
        zones.append(zone)
        keys.append({i: _key(lines[i].text) for i in zone})
    counts = Counter(key for page_keys in keys for key in set(page_keys.values()))
    recurring = max(2, int(0.4 * len(pages) + 0.5))
    drop: set[tuple[int, int]] = set()
    for p in range(len(pages)):
        lines = pages[p][1]

        def candidate(i: int, where: str, p: int = p) -> bool:
            if zones[p].get(i) != where:
                return False
            text = pages[p][1][i].text.strip()
            return bool(_PAGE_NUMBER.match(text)) or (
                len(pages) > 1 and counts[keys[p][i]] >= recurring
            )

        usual = _usual_gap(lines)
        top = 0
        while top < len(lines) and candidate(top, "top"):
            top += 1
        bottom = len(lines)
        while bottom > top and candidate(bottom - 1, "bottom"):
            bottom -= 1
        # each run must stand apart from the body (or from the other run, on a page of
        # furniture alone)
        if top and (top == bottom or _apart(lines[top - 1], lines[top], usual)):
            drop.update((p, i) for i in range(top))
        if bottom < len(lines) and (
            bottom == top or _apart(lines[bottom - 1], lines[bottom], usual)
        ):
            drop.update((p, i) for i in range(bottom, len(lines)))
    return drop


def _usual_gap(lines: list[_Line]) -> float:
    """The median space between consecutive lines of one column."""
    gaps = [
        b.top - a.bottom
        for a, b in zip(lines, lines[1:], strict=False)
        if a.column == b.column and 0 <= b.top - a.bottom < 3 * (a.bottom - a.top)
    ]
    return statistics.median(gaps) if gaps else 0.0


def _apart(upper: _Line, lower: _Line, usual: float) -> bool:
    gap = abs(lower.top - upper.bottom)
    return gap > 1.5 * usual + 0.3 * (upper.bottom - upper.top)


def _paragraphs(lines: list[_Line], page: int, compounds: set[str]) -> list[Block]:
    """Lines joined into paragraph blocks: a wider gap, a list item, a short line that ends a
    sentence, or a table ends one; a column break does not when the sentence runs on."""
    blocks: list[Block] = []
    usual = _usual_gap(lines)
    right_edge: dict[int, float] = {}
    for line in lines:
        right_edge[line.column] = max(right_edge.get(line.column, 0.0), line.x1)
    current: list[str] = []
    previous: _Line | None = None

    def flush() -> None:
        if current:
            blocks.append(Block(_join(current, compounds), page=page))
            current.clear()

    for line in lines:
        if line.rows:
            flush()
            blocks.extend(Block(row, page=page) for row in line.rows)
            previous = None
            continue
        if previous is not None:
            height = previous.bottom - previous.top
            same_column = line.column == previous.column and line.top >= previous.top
            ends = previous.text.rstrip().endswith(_SENTENCE_END)
            short = previous.x1 < right_edge[previous.column] - 0.15 * (
                right_edge[previous.column] - previous.x0 + 1
            )
            if (
                (same_column and line.top - previous.bottom > usual + 0.5 * height)
                or (not same_column and (ends or 0 in (line.column, previous.column)))
                or _ITEM.match(line.text)
                or (short and ends)
            ):
                flush()
        current.append(line.text)
        previous = line
    flush()
    return blocks


def _join(lines: list[str], compounds: set[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        hyphen = _HYPHENATED.search(text)
        if hyphen and line[:1].islower():
            tail = re.match(r"[^\W\d_]+", line)
            pair = f"{hyphen.group(1)}-{tail.group() if tail else ''}".lower()
            text = text + line if pair in compounds else text[:-1] + line
        else:
            text = f"{text} {line}"
    return text.replace("\u00ad", "")


OcrPage = Callable[[Any], str]  # a page image -> its text


def load_pdf(path: Path, doc_id: str, data: bytes, ocr_page: OcrPage | None) -> Document:
    """``ocr_page`` reads pages that have no text at all; None when OCR is off."""
    import pypdfium2 as pdfium

    pages: list[tuple[float, list[_Line]]] = []
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
                tables: list[_Line] = []
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
    drop = _furniture(pages)
    compounds = {
        f"{a}-{b}".lower()
        for _, lines in pages
        for line in lines
        for a, b in _COMPOUND.findall(line.text)
    }
    blocks: list[Block] = []
    for index, (_, lines) in enumerate(pages):
        if index in scanned:
            blocks.extend(scanned_blocks(scanned[index], index + 1))
            continue
        kept = [line for i, line in enumerate(lines) if (index, i) not in drop]
        blocks.extend(_paragraphs(kept, index + 1, compounds))
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


def _plumber_tables(plumber: Any, index: int) -> list[_Line]:
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


def scanned_blocks(text: str, page: int) -> list[Block]:
    """OCR text as paragraph blocks (Tesseract leaves a blank line between paragraphs),
    hyphenation joined, without a page number on the first or last line."""
    lines = [line.strip() for line in text.strip().splitlines()]
    while lines and (not lines[0] or _PAGE_NUMBER.match(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1] or _PAGE_NUMBER.match(lines[-1])):
        lines.pop()
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    merged: list[list[str]] = []
    for paragraph in filter(None, paragraphs):
        # Tesseract also leaves a blank line inside a paragraph; a sentence running on
        # into a lower-case word shows it
        if merged and not merged[-1][-1].endswith(_SENTENCE_END) and paragraph[0][:1].islower():
            merged[-1].extend(paragraph)
        else:
            merged.append(paragraph)
    return [Block(_join(paragraph, set()), page=page) for paragraph in merged]
