"""Chunking: offsets round-trip, size limits, sentence overlap, headings start chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.service import sample_corpus_dir
from ingest.chunking import chunk_document
from ingest.document import Block, Chunk, Document
from ingest.loaders import load_document
from ingest.normalize import assemble
from ingest.sentences import sentence_spans

SAMPLE_FILES = sorted(sample_corpus_dir().iterdir())
SIZES = [(900, 150), (300, 60), (1500, 0), (200, 150)]


@pytest.fixture(scope="module")
def sample_documents() -> dict[str, Document]:
    return {path.name: load_document(path, path.name) for path in SAMPLE_FILES}


def _check_chunks(document: Document, chunks: list[Chunk], size: int) -> None:
    text = document.text
    assert chunks, "no chunks"
    covered = [False] * len(text)
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert chunk.doc_id == document.doc_id
        assert chunk.doc_hash == document.content_hash
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert len(chunk.text) <= size
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.start > prev.start and nxt.end > prev.end, "each chunk must add new text"
    lost = "".join(ch for ch, hit in zip(text, covered, strict=True) if not hit)
    assert not lost.strip(), f"text in no chunk: {lost.strip()[:80]!r}"
    assert len({c.chunk_id for c in chunks}) == len(chunks)


@pytest.mark.parametrize(("size", "overlap"), SIZES, ids=[f"{s}-{o}" for s, o in SIZES])
@pytest.mark.parametrize("name", [p.name for p in SAMPLE_FILES])
def test_sample_corpus_chunks_round_trip(
    sample_documents: dict[str, Document], name: str, size: int, overlap: int
) -> None:
    document = sample_documents[name]
    assert "\r" not in document.text and "  " not in document.text
    _check_chunks(document, chunk_document(document, size, overlap), size)


def _paragraph_doc(sentences: int, *, heading: str | None = None) -> Document:
    blocks = [Block(heading, heading_level=1)] if heading else []
    blocks.append(Block(" ".join(f"Sentence number {i} says something." for i in range(sentences))))
    return assemble("doc", blocks, title="t", source="s")


def test_overlap_repeats_whole_sentences_within_the_limit() -> None:
    document = _paragraph_doc(40)
    chunks = chunk_document(document, size=200, overlap=80)
    _check_chunks(document, chunks, 200)
    assert len(chunks) > 3
    sentence_starts = {s for s, _ in sentence_spans(document.text)}
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        shared = prev.end - nxt.start
        assert 0 < shared <= 80, "neighbours in one paragraph overlap, within the limit"
        assert nxt.start in sentence_starts, "overlap starts at a sentence"


def test_zero_overlap_gives_disjoint_chunks() -> None:
    document = _paragraph_doc(40)
    chunks = chunk_document(document, size=200, overlap=0)
    _check_chunks(document, chunks, 200)
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.start > prev.end


@pytest.mark.parametrize(
    "long_text",
    [
        "x" * 2500,  # no space at all: cut hard at the limit
        " ".join(["word"] * 600),  # one sentence with spaces: cut at a space
        "https://example.gov/" + "a/" * 700 + " and then a normal tail.",
    ],
    ids=["no-spaces", "one-long-sentence", "long-url"],
)
def test_over_long_unit_is_cut_to_the_size(long_text: str) -> None:
    document = assemble(
        "doc", [Block("Short intro."), Block(long_text), Block("Outro.")], title="t", source="s"
    )
    chunks = chunk_document(document, size=300, overlap=50)
    _check_chunks(document, chunks, 300)
    assert chunks[-1].text.endswith("Outro.")


def test_headings_start_chunks_and_name_their_location(tmp_path: Path) -> None:
    body = " ".join(f"Point {i} of this section matters." for i in range(12))
    path = tmp_path / "guide.md"
    path.write_text(
        f"# Guide\n\n## Part One\n\n{body}\n\n## Part Two\n\nShort.\n\n### Detail\n\n{body}\n",
        encoding="utf-8",
    )
    document = load_document(path, "guide.md")
    chunks = chunk_document(document, size=250, overlap=60)
    _check_chunks(document, chunks, 250)
    starts = {c.start for c in chunks}
    for index, section in enumerate(document.sections):
        if section.is_heading:  # starts a chunk, unless stacked right under another heading
            stacked = index > 0 and document.sections[index - 1].is_heading
            assert section.start in starts or stacked, document.text[section.start : section.end]
    for chunk in chunks:  # inside a chunk, headings only come first: no heading after body text
        kinds = [s.is_heading for s in document.sections if chunk.start <= s.start < chunk.end]
        assert kinds == sorted(kinds, reverse=True)
    openers = [
        (c.text.split("\n\n")[0], c.location)
        for c in chunks
        if c.start in {s.start for s in document.sections if s.is_heading}
    ]
    assert openers == [
        ("Guide", "Guide > Part One"),  # location of the body, not of the stacked heading
        ("Part Two", "Guide > Part Two"),
        ("Detail", "Guide > Part Two > Detail"),
    ]
    assert len(chunks) > len(openers), "long sections continue in further chunks"


def test_list_intro_starts_the_chunk_of_its_items() -> None:
    filler = "This sentence is filler text that pads the section out. " * 4
    blocks = [
        Block(filler.strip()),
        Block("Staff shall receive training in the following areas:"),
        Block("(1) Conflict prevention and resolution."),
        Block("(2) International humanitarian law."),
    ]
    document = assemble("law.md", blocks, title="Law", source="law.md")
    chunks = chunk_document(document, size=300, overlap=0)
    with_items = next(c for c in chunks if "(1) Conflict" in c.text)
    assert with_items.text.startswith("Staff shall receive training in the following areas:")
    assert not any(c.text.endswith("following areas:") for c in chunks)


def test_a_list_that_would_be_split_starts_a_chunk_at_its_intro() -> None:
    filler = "This sentence is filler text that pads the section out. " * 3
    blocks = [
        Block(filler.strip()),
        Block("Staff shall receive training in the following areas:"),
        Block("(1) Conflict prevention and resolution in all its many forms and places."),
        Block("(2) International humanitarian law and international human rights law."),
    ]
    document = assemble("law.md", blocks, title="Law", source="law.md")
    chunks = chunk_document(document, size=320, overlap=0)
    with_items = [c for c in chunks if "(2) International" in c.text]
    assert with_items and with_items[0].text.startswith("Staff shall receive training")
    assert "(1) Conflict" in with_items[0].text


@pytest.mark.parametrize(
    "line",
    ["II. Evaluar anualmente el Programa Nacional.", "12. Report to Congress.", "IV. Informar."],
)
def test_a_list_number_opening_a_line_stays_with_its_item(line: str) -> None:
    text = f"Corresponde al Consejo:\n{line}\nEl Consejo sesiona. 2. Otro."
    assert line in [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    "text,item",
    [
        ("Sec. 2. The Council. (a) There is established a Council.", "(a) There is established"),
        ("Artículo 5. Definiciones. a) Violencia: cualquier acción.", "a) Violencia: cualquier"),
    ],
)
def test_an_inline_enumerator_after_a_title_starts_a_sentence(text: str, item: str) -> None:
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert any(s.startswith(item) for s in sentences)
    assert not any(item in s and not s.startswith(item) for s in sentences)
