"""Structure-aware chunking: sections and sentences packed to a size, with offsets.

Each chunk is a contiguous slice of the normalised text, so ``text[start:end]`` is the chunk.
A heading starts a new chunk; consecutive chunks in a section overlap by whole sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.document import Chunk, Document
from ingest.sentences import is_list_item, sentence_spans


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    location: str
    heading: bool


def _units(document: Document, size: int) -> list[_Unit]:
    units: list[_Unit] = []
    text = document.text
    for section in document.sections:
        for s, e in sentence_spans(text, section.start, section.end):
            while e - s > size:  # one very long sentence: cut at a space near the limit
                cut = text.rfind(" ", s + size // 2, s + size)
                cut = cut if cut > s else s + size
                units.append(_Unit(s, cut, section.location, section.is_heading))
                s = cut
                while s < e and text[s].isspace():
                    s += 1
            if e > s:
                units.append(_Unit(s, e, section.location, section.is_heading))
    return units


def _is_item(text: str, unit: _Unit) -> bool:
    return is_list_item(text, unit.start)


def _introduces(text: str, unit: _Unit) -> bool:
    return not unit.heading and text[unit.start : unit.end].rstrip().endswith((":", "—", "–"))


# characters: about 200 MiniLM tokens, inside its 256-token window with the title and heading
# path prepended; the overlap keeps a sentence cut at a boundary whole in one of the two chunks
CHUNK_SIZE = 900
CHUNK_OVERLAP = 150


def chunk_document(
    document: Document, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP
) -> list[Chunk]:
    """Split a document into chunks of at most ``size`` characters (unless a unit is longer)."""
    units = _units(document, size)
    chunks: list[Chunk] = []
    doc_hash = document.content_hash
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units):
            nxt = units[j]
            if nxt.heading and not units[j - 1].heading:
                break
            if nxt.location != units[i].location and not units[i].heading:
                break
            if nxt.end - units[i].start > size:
                break
            j += 1
        # a list intro ("... in the following areas:") goes with its items: when the items
        # run past this chunk, the next chunk starts at the intro
        m = j
        while m - 1 > i and _is_item(document.text, units[m - 1]):
            m -= 1
        previous_end = chunks[-1].end if chunks else -1
        if (
            j < len(units)
            and m - 1 > i
            and (m == j or _is_item(document.text, units[j]))
            and units[m - 2].end > previous_end
            and _introduces(document.text, units[m - 1])
        ):
            j = m - 1
        first, last = units[i], units[j - 1]
        body = next((u for u in units[i:j] if not u.heading), first)
        chunks.append(
            Chunk(
                doc_id=document.doc_id,
                doc_hash=doc_hash,
                ordinal=len(chunks),
                start=first.start,
                end=last.end,
                text=document.text[first.start : last.end],
                location=body.location,
            )
        )
        if j >= len(units):
            break
        # overlap: restart a few whole sentences back, within the same section, never at i,
        # and only as far as still lets the next chunk take in unit j; otherwise the next
        # chunk would be a mere copy of this one's tail
        k = j
        nxt = units[j]
        while (
            k - 1 > i
            and not nxt.heading
            and not units[k - 1].heading
            and units[k - 1].location == nxt.location
            and last.end - units[k - 1].start <= overlap
            and nxt.end - units[k - 1].start <= size
        ):
            k -= 1
        i = k
    return chunks
