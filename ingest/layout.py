"""Page layout from positioned words: the reading order a reader follows on the page.

Library-free geometry, shared by the PDF loader (words from PDFium) and OCR (Tesseract's
text). It
- reads a two-column page column by column: a vertical gutter free of words splits it (when
  both sides hold prose), and a line or table across the gutter (a title, a caption)
  separates one band of columns from the next;
- finds running headers and footers (a line in the top or bottom margin that recurs on
  other pages, digits aside: "Ley General ... Última reforma DOF 01-04-2024") and page
  numbers ("12", "- 12 -", "Page 12 of 40", "325 de 402");
- joins lines into paragraphs, and a word hyphenated across a line end ("Constitu-" +
  "ción"), unless the document writes that pair with a hyphen elsewhere ("well-known");
- gives each table row as one block, "cell | cell", where the table stands.
Words are dicts with "text", "x0", "x1", "top" and "bottom" (top-down page coordinates).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ingest.document import Block

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
class Line:
    text: str
    top: float
    bottom: float
    x0: float
    x1: float
    column: int = 0  # 0 = the whole width, 1 = left, 2 = right
    rows: list[str] = field(default_factory=list)  # set for a table: its rows


def group_rows(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
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


def _line(words: list[dict[str, Any]], column: int = 0) -> Line:
    return Line(
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


def reading_order(rows: list[list[dict[str, Any]]], tables: list[Line], width: float) -> list[Line]:
    """Lines (and tables) in reading order: band by band, left column before right."""
    gutter = _gutter(rows, width)
    items: list[tuple[float, int, Any]] = [(r[0]["top"], 0, r) for r in rows]
    items += [(t.top, 1, t) for t in tables]
    items.sort(key=lambda item: (item[0], item[1]))
    lines: list[Line] = []
    band: dict[int, list[Line]] = {1: [], 2: []}

    def flush() -> None:
        lines.extend(band[1] + band[2])
        band[1], band[2] = [], []

    for _, _, item in items:
        if isinstance(item, Line):  # a table
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


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def furniture(pages: list[tuple[float, list[Line]]]) -> set[tuple[int, int]]:
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


def _usual_gap(lines: list[Line]) -> float:
    """The median space between consecutive lines of one column."""
    gaps = [
        b.top - a.bottom
        for a, b in zip(lines, lines[1:], strict=False)
        if a.column == b.column and 0 <= b.top - a.bottom < 3 * (a.bottom - a.top)
    ]
    return statistics.median(gaps) if gaps else 0.0


def _apart(upper: Line, lower: Line, usual: float) -> bool:
    gap = abs(lower.top - upper.bottom)
    return gap > 1.5 * usual + 0.3 * (upper.bottom - upper.top)


def paragraphs(lines: list[Line], page: int, hyphenated: set[str]) -> list[Block]:
    """Lines joined into paragraph blocks: a wider gap, a list item, a short line that ends a
    sentence, or a table ends one; a column break does not when the sentence runs on."""
    blocks: list[Block] = []
    usual = _usual_gap(lines)
    right_edge: dict[int, float] = {}
    for line in lines:
        right_edge[line.column] = max(right_edge.get(line.column, 0.0), line.x1)
    current: list[str] = []
    previous: Line | None = None

    def flush() -> None:
        if current:
            blocks.append(Block(_join(current, hyphenated), page=page))
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


def _join(lines: list[str], hyphenated: set[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        hyphen = _HYPHENATED.search(text)
        if hyphen and line[:1].islower():
            tail = re.match(r"[^\W\d_]+", line)
            pair = f"{hyphen.group(1)}-{tail.group() if tail else ''}".lower()
            text = text + line if pair in hyphenated else text[:-1] + line
        else:
            text = f"{text} {line}"
    return text.replace("\u00ad", "")


def compounds(pages: list[tuple[float, list[Line]]]) -> set[str]:
    """The hyphenated compounds a document writes within its lines ("well-known")."""
    return {
        f"{a}-{b}".lower()
        for _, lines in pages
        for line in lines
        for a, b in _COMPOUND.findall(line.text)
    }


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
