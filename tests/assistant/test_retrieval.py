"""Hybrid retrieval on a real Chroma store with the real model: fusion, modes, dedup, BM25 cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.keyword import _windows
from assistant.retrieval import MODES, Hit
from assistant.service import Service
from ingest.embedding import Embedder
from ingest.store import StoredChunk
from tests.conftest import make_settings


def rank_of(hits: list[Hit], needle: str) -> int | None:
    return next((i for i, h in enumerate(hits, start=1) if needle in h.chunk.text), None)


def test_hybrid_finds_a_rare_exact_term_that_dense_ranks_low(sample_service: Service) -> None:
    query = "Is there a feminist foreign policy?"
    dense = sample_service.retriever.search(query, 10, mode="dense")
    hybrid = sample_service.retriever.search(query, 10)
    dense_rank = rank_of(dense, "Feminist Foreign Policy")
    assert dense_rank is None or dense_rank > 3
    assert rank_of(hybrid, "Feminist Foreign Policy") == 1


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_returns_k_sorted_scores_in_unit_range(
    sample_service: Service, mode: str
) -> None:
    hits = sample_service.retriever.search(
        "sanctions for conflict-related sexual violence", 8, mode
    )
    assert len(hits) == 8
    scores = [h.score for h in hits]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len({h.chunk.chunk_id for h in hits}) == 8


def test_unknown_mode_is_rejected(sample_service: Service) -> None:
    with pytest.raises(ValueError, match="hybrid, dense, bm25"):
        sample_service.retriever.search("anything", 3, mode="sparse")


def test_top_results_do_not_depend_on_k(sample_service: Service) -> None:
    query = "What training do advisors receive?"
    few = sample_service.retriever.search(query, 3)
    many = sample_service.retriever.search(query, 25)
    assert [h.chunk.chunk_id for h in few] == [h.chunk.chunk_id for h in many[:3]]


def test_overlapping_chunks_of_a_document_are_returned_once(
    tmp_path: Path, embedder: Embedder
) -> None:
    # small chunks with a large overlap, so neighbouring chunks share whole sentences
    docs = tmp_path / "docs"
    docs.mkdir()
    sentences = [
        f"Sentence {i} of the report says that the harbour crane number {i} was repaired."
        for i in range(12)
    ]
    (docs / "report.md").write_text("# Report\n\n" + " ".join(sentences) + "\n")
    settings = make_settings(tmp_path / "data", chunk_size=300, chunk_overlap=150)
    service = Service(settings, embedder=embedder)
    service.ingest([docs])
    chunks = sorted(service.store.iter_chunks(), key=lambda c: c.start)
    assert any(a.end > b.start for a, b in zip(chunks, chunks[1:], strict=False))  # overlap
    for mode in MODES:
        hits = service.retriever.search("harbour crane repaired", len(chunks), mode)
        spans = sorted((h.chunk.start, h.chunk.end) for h in hits)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))


def test_keyword_windows_stitch_neighbours_without_repeating_the_overlap() -> None:
    text = "one two three four five six seven eight"

    def chunk(ordinal: int, start: int, end: int, doc_id: str = "d") -> StoredChunk:
        return StoredChunk(
            f"{doc_id}-{ordinal}",
            text[start:end],
            doc_id,
            "h",
            ordinal,
            start,
            end,
            "",
            "Title",
            "",
        )

    a, b, c = chunk(0, 0, 13), chunk(1, 8, 23), chunk(2, 19, len(text))
    other = chunk(0, 0, 3, doc_id="e")
    windows = _windows([c, other, a, b], context=1)
    assert windows[a.chunk_id].split() == text.split()[:5]
    assert windows[b.chunk_id].split() == text.split()
    assert windows[c.chunk_id].split() == text.split()[2:]
    assert windows[other.chunk_id] == "one"
    assert _windows([a, b, c], context=0)[b.chunk_id] == b.text


@pytest.mark.parametrize("context", [0, 1])
def test_bm25_finds_a_chunk_by_a_word_of_its_neighbour(
    tmp_path: Path, embedder: Embedder, context: int
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    first = "The Quillfeather programme started in the northern provinces. " * 3
    rest = "It trained local mediators in listening and negotiation skills. " * 8
    (docs / "programme.md").write_text(f"# Programme\n\n{first}{rest}\n")
    settings = make_settings(
        tmp_path / "data", chunk_size=250, chunk_overlap=0, bm25_context=context
    )
    service = Service(settings, embedder=embedder)
    service.ingest([docs])
    hits = service.retriever.search("Quillfeather", 10, mode="bm25")
    assert hits and "Quillfeather" in hits[0].chunk.text
    through_neighbour = [h for h in hits if "Quillfeather" not in h.chunk.text]
    assert len(through_neighbour) == context  # the chunk right after the word, when asked


def test_keyword_index_is_kept_on_disk_and_follows_another_service_s_changes(
    tmp_path: Path, embedder: Embedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe ferry to the island leaves at noon.\n")
    settings = make_settings(tmp_path / "data")
    first = Service(settings, embedder=embedder)
    first.ingest([docs])
    assert first.retriever.search("ferry", 1, mode="bm25")[0].chunk.doc_id == "a.md"
    [index_file] = (settings.data_dir / "keyword").glob("*.sqlite3")

    second = Service(settings, embedder=embedder)
    assert second.keyword.ready and second.keyword.size == 1  # opened, not built again

    (docs / "b.md").write_text("# B\n\nThe lighthouse keeper rows a small boat.\n")
    first.ingest([docs])
    assert first.keyword.size == 2  # the ingesting service applied its own change at once
    hits = second.retriever.search("lighthouse keeper", 1, mode="bm25")
    assert hits[0].chunk.doc_id == "b.md"  # the other one caught up before searching
    assert second.keyword.size == 2
    assert list((settings.data_dir / "keyword").glob("*.sqlite3")) == [index_file]

    first.remove("a.md")
    assert first.keyword.size == 1
    assert not first.retriever.search("ferry island noon", 3, mode="bm25")
