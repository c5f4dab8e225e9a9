"""DOCX as Word shows it: tracked changes accepted, tables in reading order, footnotes.

python-docx opens the package and names the styles; the body is read from its XML, because
``Paragraph.text`` skips runs inside ``w:ins`` (so every tracked insertion was lost) and
knows nothing of footnotes. The accepted view keeps insertions and moved-to text, drops
deletions, moved-from text, hidden runs and field instructions, and reads a drawing's
``mc:Choice`` but not its duplicate ``mc:Fallback``. List and heading numbers that Word
draws from the numbering definitions ("1.", "a)", "Artículo 3.-", bullets as "•") are put
in front of their paragraph. A footnote or endnote follows the paragraph that cites it, as
"1 Text of the note", so its location is that paragraph's.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ingest.document import Block, Document
from ingest.errors import LoadError
from ingest.normalize import assemble
from ingest.titles import choose_title, headline

MAX_DOCX_UNCOMPRESSED = 100 * 1024 * 1024
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_SKIP = frozenset(
    [
        f"{W}del",  # tracked deletion
        f"{W}moveFrom",  # tracked move: the old place
        f"{W}instrText",  # field code, e.g. HYPERLINK "..." or TOC \\o
        f"{W}delInstrText",
        f"{W}pPr",  # paragraph properties (may hold a deleted paragraph mark)
        f"{W}rPr",
        f"{MC}Fallback",  # the duplicate of mc:Choice for old readers
        f"{W}commentReference",
        f"{W}footnoteReference",  # the note follows the paragraph instead
        f"{W}endnoteReference",
    ]
)
_SPACE = frozenset([f"{W}tab", f"{W}br", f"{W}cr", f"{W}ptab"])
_NOTE_TYPES = ("separator", "continuationSeparator", "continuationNotice")


def _check_package(data: bytes) -> None:
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


def _hidden(run: Any) -> bool:
    vanish = run.find(f"{W}rPr/{W}vanish")
    return vanish is not None and vanish.get(f"{W}val", "true") not in ("0", "false", "off")


def _text(element: Any) -> str:
    """The visible text under ``element`` in the accepted view."""
    pieces: list[str] = []
    stack = [element]
    while stack:
        node = stack.pop()
        tag = node.tag
        if tag in _SKIP or (tag == f"{W}r" and _hidden(node)):
            continue
        if tag == f"{W}t":
            pieces.append(node.text or "")
        elif tag in _SPACE:
            pieces.append(" ")
        elif tag == f"{W}noBreakHyphen":
            pieces.append("-")
        stack.extend(reversed(node))
    return "".join(pieces)


def _note_ids(paragraph: Any, kind: str) -> Iterator[str]:
    for ref in paragraph.iter(f"{W}{kind}Reference"):
        deleted = any(a.tag in (f"{W}del", f"{W}moveFrom") for a in ref.iterancestors())
        if not deleted:
            yield ref.get(f"{W}id", "")


def _notes(document: Any, relationship: str, kind: str) -> dict[str, str]:
    """Footnote (or endnote) id -> its text."""
    from docx.oxml import parse_xml

    try:
        part = document.part.part_related_by(relationship)
    except KeyError:
        return {}
    root = parse_xml(part.blob)
    return {
        note.get(f"{W}id", ""): " ".join(_text(p) for p in note.iter(f"{W}p"))
        for note in root.iter(f"{W}{kind}")
        if note.get(f"{W}type") not in _NOTE_TYPES
    }


def _roman(number: int) -> str:
    digits = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ]
    out = ""
    for value, letters in digits:
        while number >= value:
            out += letters
            number -= value
    return out


def _letters(number: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa: Word repeats the letter."""
    return chr(ord("a") + (number - 1) % 26) * ((number - 1) // 26 + 1)


_FORMATS: dict[str, Callable[[int], str]] = {
    "decimal": str,
    "decimalZero": lambda n: f"{n:02d}",
    "lowerLetter": _letters,
    "upperLetter": lambda n: _letters(n).upper(),
    "lowerRoman": _roman,
    "upperRoman": lambda n: _roman(n).upper(),
    "none": lambda n: "",
}


class _Numbering:
    """The numbers Word draws in front of list and heading paragraphs (numbering.xml)."""

    def __init__(self, document: Any, styles: dict[str, Any]) -> None:
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}  # numId -> ilvl -> level
        self.counters: dict[str, list[int]] = {}
        self.styles = styles  # styleId -> style element, for numbering set by a style
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
        for definition in root.findall(f"{W}abstractNum"):
            abstract[definition.get(f"{W}abstractNumId", "")] = {
                int(level.get(f"{W}ilvl", "0")): _level(level)
                for level in definition.findall(f"{W}lvl")
            }
        for num in root.findall(f"{W}num"):
            ref = num.find(f"{W}abstractNumId")
            levels = dict(abstract.get(ref.get(f"{W}val", "") if ref is not None else "", {}))
            for override in num.findall(f"{W}lvlOverride"):
                ilvl = int(override.get(f"{W}ilvl", "0"))
                start = override.find(f"{W}startOverride")
                if ilvl in levels and start is not None:
                    fmt, text, _ = levels[ilvl]
                    levels[ilvl] = (fmt, text, int(start.get(f"{W}val", "1")))
            self.levels[num.get(f"{W}numId", "")] = levels

    def _num_pr(self, paragraph: Any) -> tuple[str, int] | None:
        props = paragraph.find(f"{W}pPr/{W}numPr")
        style = paragraph.find(f"{W}pPr/{W}pStyle")
        style_id = style.get(f"{W}val") if style is not None else None
        for _ in range(10):  # a style, and the styles it is based on
            if props is not None:
                break
            element = self.styles.get(style_id or "")
            if element is None:
                return None
            props = element.find(f"{W}pPr/{W}numPr")
            based = element.find(f"{W}basedOn")
            style_id = based.get(f"{W}val") if based is not None else None
        if props is None:
            return None
        num = props.find(f"{W}numId")
        ilvl = props.find(f"{W}ilvl")
        num_id = num.get(f"{W}val", "") if num is not None else ""
        return num_id, int(ilvl.get(f"{W}val", "0")) if ilvl is not None else 0

    def label(self, paragraph: Any) -> str:
        found = self._num_pr(paragraph)
        if found is None or found[0] in ("", "0") or found[0] not in self.levels:
            return ""
        num_id, ilvl = found
        levels = self.levels[num_id]
        if ilvl not in levels:
            return ""
        counters = self.counters.setdefault(num_id, [0] * 9)
        counters[ilvl] = counters[ilvl] + 1 if counters[ilvl] else levels[ilvl][2]
        for deeper in range(ilvl + 1, len(counters)):
            counters[deeper] = 0
        fmt, text, _ = levels[ilvl]
        if fmt == "bullet":
            return "•"
        for level in range(ilvl + 1):
            value = counters[level] or (levels.get(level, ("", "", 1))[2])
            shown = _FORMATS.get(levels.get(level, ("decimal", "", 1))[0], str)(value)
            text = text.replace(f"%{level + 1}", shown)
        return text.strip()


def _level(level: Any) -> tuple[str, str, int]:
    fmt = level.find(f"{W}numFmt")
    text = level.find(f"{W}lvlText")
    start = level.find(f"{W}start")
    return (
        fmt.get(f"{W}val", "decimal") if fmt is not None else "decimal",
        text.get(f"{W}val", "") if text is not None else "",
        int(start.get(f"{W}val", "1")) if start is not None else 1,
    )


class _Reader:
    def __init__(self, document: Any) -> None:
        from docx.opc.constants import RELATIONSHIP_TYPE as RT

        self.styles = {s.style_id: s.name or "" for s in document.styles}
        self.numbering = _Numbering(document, {s.style_id: s.element for s in document.styles})
        self.notes = {
            "footnote": _notes(document, RT.FOOTNOTES, "footnote"),
            "endnote": _notes(document, RT.ENDNOTES, "endnote"),
        }
        self.numbers: dict[tuple[str, str], int] = {}  # notes are numbered in citing order
        self.blocks: list[Block] = []

    def level(self, paragraph: Any) -> int:
        style_id = paragraph.find(f"{W}pPr/{W}pStyle")
        name = self.styles.get(style_id.get(f"{W}val"), "") if style_id is not None else ""
        if name == "Title":
            return 1
        if name.lower().startswith("heading"):
            digits = "".join(ch for ch in name if ch.isdigit())
            return min(int(digits), 6) if digits else 1
        outline = paragraph.find(f"{W}pPr/{W}outlineLvl")
        if outline is not None and (outline.get(f"{W}val") or "").isdigit():
            value = int(outline.get(f"{W}val"))
            return value + 1 if value < 6 else 0  # 9 = body text
        return 0

    def paragraph(self, paragraph: Any) -> None:
        text = _text(paragraph)
        label = self.numbering.label(paragraph)  # counted even when empty, as Word does
        text = f"{label} {text}" if label and text.strip() else text
        self.blocks.append(Block(text, heading_level=self.level(paragraph)))
        for kind in ("footnote", "endnote"):
            for note_id in _note_ids(paragraph, kind):
                text = self.notes[kind].get(note_id, "")
                if text.strip():
                    number = self.numbers.setdefault((kind, note_id), self._next(kind))
                    self.blocks.append(Block(f"{number} {text}"))

    def _next(self, kind: str) -> int:
        return 1 + sum(1 for k, _ in self.numbers if k == kind)

    def table(self, table: Any) -> None:
        for row in table.iter(f"{W}tr"):
            if row.find(f"{W}trPr/{W}del") is not None:  # a tracked row deletion
                continue
            if next(row.iterancestors(f"{W}tbl")) is not table:
                continue  # a row of a nested table: part of its cell's text
            cells = [
                " ".join(_text(p) for p in cell.iter(f"{W}p")).strip()
                for cell in row.findall(f"{W}tc")
            ]
            if any(cells):
                self.blocks.append(Block(" | ".join(cells)))

    def body(self, container: Any) -> None:
        """Paragraphs and tables in body order; content controls are opened."""
        for child in container:
            if child.tag == f"{W}p":
                self.paragraph(child)
            elif child.tag == f"{W}tbl":
                self.table(child)
            elif child.tag == f"{W}sdt":
                content = child.find(f"{W}sdtContent")
                if content is not None:
                    self.body(content)
            elif child.tag in (f"{W}ins", f"{W}moveTo", f"{W}customXml"):
                self.body(child)


def load_docx(path: Path, doc_id: str, data: bytes) -> Document:
    _check_package(data)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        reader = _Reader(document)
        reader.body(document.element.body)
    except Exception as exc:  # python-docx and lxml raise many types for broken packages
        raise LoadError(f"corrupt DOCX ({type(exc).__name__}); re-save it from Word") from None
    blocks = reader.blocks
    return assemble(
        doc_id,
        blocks,
        title=choose_title(document.core_properties.title, headline(blocks), fallback=path.stem),
        source=str(path),
    )
