"""The data model shared by loaders, chunking and the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol


class Span(Protocol):
    """Anything that is a stretch of one document: a chunk, a candidate sentence, a quote."""

    @property
    def doc_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def overlaps(a: Span, b: Span) -> bool:
    """Whether two stretches share text: same document, intersecting offsets."""
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph as a loader found it, before normalisation."""

    text: str
    heading_level: int = 0  # 0 = body text, 1..6 = heading
    page: int | None = None


@dataclass
class Section:
    """A span of the normalised text with its location label (heading path or page)."""

    start: int
    end: int
    location: str
    is_heading: bool = False


@dataclass
class Document:
    """A loaded, normalised document: ``text`` is the basis of every offset."""

    doc_id: str
    text: str
    sections: list[Section]
    title: str
    source: str
    date: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A contiguous span of a document: ``text == document.text[start:end]``."""

    doc_id: str
    doc_hash: str
    ordinal: int
    start: int
    end: int
    text: str
    location: str

    @property
    def chunk_id(self) -> str:
        return chunk_id(self.doc_id, self.doc_hash, self.ordinal)


def chunk_id(doc_id: str, doc_hash: str, ordinal: int) -> str:
    """Deterministic id: re-running an ingest can never duplicate a chunk."""
    digest = hashlib.sha1(f"{doc_id}\x00{doc_hash}".encode()).hexdigest()[:16]
    return f"{digest}-{ordinal:05d}"
