"""Text normalisation; the normalised text is what offsets and quotes refer to."""

from __future__ import annotations

import re
import unicodedata

from ingest.document import Block, Document, Section

_SPACES = re.compile(r"[ \t\f\v\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def normalize_inline(text: str) -> str:
    """NFC, one space for any run of whitespace, no control or zero-width characters."""
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ")
    return _SPACES.sub(" ", text).strip()


def assemble(
    doc_id: str,
    blocks: list[Block],
    *,
    title: str,
    source: str,
    date: str = "",
    metadata: dict[str, str] | None = None,
) -> Document:
    """Join normalised blocks with blank lines and record each block's location."""
    parts: list[str] = []
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    pos = 0
    for block in blocks:
        text = normalize_inline(block.text)
        if not text:
            continue
        if block.heading_level:
            headings = [h for h in headings if h[0] < block.heading_level]
            headings.append((block.heading_level, text))
        if block.page is not None:
            location = f"page {block.page}"
            if headings:
                location = f"{headings[-1][1]} · {location}"
        else:
            location = " > ".join(h[1] for h in headings)
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(text)
        sections.append(Section(pos, pos + len(text), location, bool(block.heading_level)))
        pos += len(text)
    return Document(
        doc_id=doc_id,
        text="".join(parts),
        sections=sections,
        title=normalize_inline(title) or doc_id,
        source=source,
        date=date,
        metadata=metadata or {},
    )
