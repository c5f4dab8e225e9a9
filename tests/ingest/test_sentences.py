"""The one list grammar (ingest.sentences): the loaders, chunking, the answerer and the verifier
read list items the same way, so an item kind one of them knows is known to all."""

from __future__ import annotations

import pytest

from assistant.reader import candidates
from assistant.retrieval import Hit
from assistant.verify import split_answer
from ingest.chunking import chunk_document
from ingest.document import Block
from ingest.normalize import assemble
from ingest.sentences import is_intro, is_list_item
from ingest.store import StoredChunk
from ingest.text import paragraph_blocks

MARKERS = ["(a)", "(iv)", "1.", "2)", "IV.-", "III.", "b)", "-", "*", "+", "•", "▪", "–"]


@pytest.mark.parametrize("marker", MARKERS)
def test_every_item_marker_is_an_item(marker: str) -> None:
    assert is_list_item(f"{marker} Conflict prevention and resolution.")


@pytest.mark.parametrize("text", ["I think so.", "-5 degrees.", "Article 2 applies.", "CV"])
def test_sentences_are_not_items(text: str) -> None:
    assert not is_list_item(text)


def test_intros_are_sentences_that_open_a_list() -> None:
    assert is_intro("Staff shall receive training in the following areas:")
    assert is_intro("The duties of the council include")
    assert not is_intro("The council meets twice a year.")


@pytest.mark.parametrize("marker", ["+", "▪", "IV.-", "b)"])
def test_a_plain_text_item_starts_its_own_block(marker: str) -> None:
    text = f"Staff shall receive training in the following areas:\n{marker} Conflict prevention."
    blocks = paragraph_blocks(text)
    assert [b.text for b in blocks][-1] == f"{marker} Conflict prevention."


@pytest.mark.parametrize("marker", ["+", "▪", "IV.-"])
def test_chunking_keeps_these_items_with_their_intro(marker: str) -> None:
    filler = "This sentence is filler text that pads the section out. " * 4
    blocks = [
        Block(filler.strip()),
        Block("Staff shall receive training in the following areas:"),
        Block(f"{marker} Conflict prevention and resolution."),
        Block(f"{marker} International humanitarian law."),
    ]
    document = assemble("law.md", blocks, title="Law", source="law.md")
    chunks = chunk_document(document, size=300, overlap=0)
    with_items = next(c for c in chunks if "Conflict prevention" in c.text)
    assert with_items.text.startswith("Staff shall receive training in the following areas:")


def test_the_answerer_quotes_a_plus_bullet_item_without_its_bullet() -> None:
    text = "The duties are the following:\n+ Keep the register.\n+ Publish the report."
    chunk = StoredChunk("c", text, "d", "h", 0, 0, len(text), "", "T", "s")
    found = candidates([Hit(chunk, 1.0, 1.0, 0.0)])
    assert found[0].text.endswith("+ Publish the report.")  # the intro with its items
    assert any(c.text == "Keep the register." for c in found)


def test_the_verifier_reads_an_item_marker_as_rendering_not_claim() -> None:
    sentences, _ = split_answer("The duties are:\n+ Keep the register [1].", 1)
    item = sentences[-1]
    assert item.prefix == "+ " and item.text.startswith("Keep the register")
