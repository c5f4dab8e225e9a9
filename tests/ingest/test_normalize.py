"""Normalisation: the normalised text is what every offset and quote refers to."""

from __future__ import annotations

import unicodedata

import pytest

from ingest.document import Block
from ingest.normalize import assemble, normalize_inline


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Cafe\u0301 cre\u0300me", "Caf\u00e9 cr\u00e8me"),  # NFD -> NFC
        ("  lead and trail  ", "lead and trail"),
        ("tabs\tand\u00a0non-breaking\u2009thin  spaces", "tabs and non-breaking thin spaces"),
        ("line one\r\nline two\rline three\nfour", "line one line two line three four"),
        ("zero\u200bwidth\ufeff joiner\u200d", "zerowidth joiner"),
        ("bell\x07 and nul\x00 chars", "bell and nul chars"),
        ("\u3000ideographic\u3000space", "ideographic space"),
        ("line\u2028separator\u2029para\x85next", "line separator para next"),
        ("", ""),
    ],
    ids=[
        "nfc",
        "strip",
        "spaces",
        "newlines",
        "zero-width",
        "control",
        "ideographic",
        "unicode-line-breaks",
        "empty",
    ],
)
def test_normalize_inline(raw: str, expected: str) -> None:
    result = normalize_inline(raw)
    assert result == expected
    assert unicodedata.is_normalized("NFC", result)


def test_assemble_joins_blocks_with_blank_lines_and_records_offsets() -> None:
    blocks = [
        Block("Title  heading", heading_level=1),
        Block("  First\tparagraph. "),
        Block("   "),  # blank blocks disappear
        Block("Sub heading", heading_level=2),
        Block("Second para\u0301graph."),
        Block("Another top", heading_level=1),
        Block("Third."),
    ]
    document = assemble("doc", blocks, title="  A\u00a0title ", source="src", date="2024")
    assert document.text == (
        "Title heading\n\nFirst paragraph.\n\nSub heading\n\nSecond par\u00e1graph."
        "\n\nAnother top\n\nThird."
    )
    assert document.title == "A title"
    spans = [(document.text[s.start : s.end], s.location, s.is_heading) for s in document.sections]
    assert spans == [
        ("Title heading", "Title heading", True),
        ("First paragraph.", "Title heading", False),
        ("Sub heading", "Title heading > Sub heading", True),
        ("Second par\u00e1graph.", "Title heading > Sub heading", False),
        ("Another top", "Another top", True),  # a new level-1 heading resets the path
        ("Third.", "Another top", False),
    ]


def test_assemble_page_locations_combine_with_the_last_heading() -> None:
    blocks = [Block("Intro text.", page=1), Block("Part A", heading_level=1, page=2)]
    blocks.append(Block("Body of part A.", page=2))
    document = assemble("doc", blocks, title="", source="src")
    locations = [s.location for s in document.sections]
    assert locations == ["page 1", "Part A · page 2", "Part A · page 2"]
    assert document.title == "doc"  # empty title falls back to the id


def test_content_hash_depends_only_on_normalised_text() -> None:
    a = assemble("a", [Block("Cafe\u0301  au lait")], title="x", source="1")
    b = assemble("b", [Block("Caf\u00e9 au\tlait")], title="y", source="2")
    c = assemble("c", [Block("Caf\u00e9 au lait!")], title="x", source="1")
    assert a.content_hash == b.content_hash != c.content_hash
