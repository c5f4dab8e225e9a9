"""The extractive answerer over a real store and model: answers assembled from the best
candidate sentences, verbatim and numbered, refusals with the closest passages, acronyms."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer import REFUSAL_TEXT, Answer, Citation, ExtractiveAnswerer
from assistant.service import Service
from assistant.text import acronyms
from ingest.loaders import load_document

TREASURY = "What does the Treasury do about conflict-related sexual violence?"
RESOLUTION = "When did the Security Council adopt resolution 1325?"


def answerer(
    service: Service, threshold: float | None = None, max_sentences: int | None = None
) -> ExtractiveAnswerer:
    """The support-score answerer (no reader), built from the service's real parts with its
    settings unless ``threshold`` or ``max_sentences`` are given."""
    settings = service.settings
    return ExtractiveAnswerer(
        service.retriever,
        service.embedder,
        service.keyword,
        k=settings.top_k,
        reader=None,
        threshold=settings.refusal_threshold if threshold is None else threshold,
        max_sentences=settings.max_answer_sentences if max_sentences is None else max_sentences,
    )


def assert_verbatim(answer: Answer, corpus: Path) -> None:
    """Markers 1..n in order, each sentence followed by its marker, and every quote the
    document's text at its offsets."""
    assert answer.answer == " ".join(f"{c.quote} [{c.n}]" for c in answer.citations)
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert load_document(corpus / c.doc_id, c.doc_id).text[c.start : c.end] == c.quote


def test_an_answer_quotes_the_best_sentence_and_close_runners_up(
    small_service: Service, small_corpus: Path
) -> None:
    answer = answerer(small_service).answer(TREASURY)
    assert not answer.refused and answer.passages == []
    assert_verbatim(answer, small_corpus)
    quotes = [c.quote for c in answer.citations]
    assert "The Treasury designates people who commit such abuses." in quotes
    assert len(quotes) >= 2 and {c.doc_id for c in answer.citations} == {"gamma/delta.md"}
    assert answer.citations[0].score >= max(c.score for c in answer.citations[1:])
    spans = sorted((c.start, c.end) for c in answer.citations)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # no overlaps


def test_max_sentences_caps_the_answer(small_service: Service, small_corpus: Path) -> None:
    full = answerer(small_service).answer(TREASURY)
    one = answerer(small_service, max_sentences=1).answer(TREASURY)
    assert len(one.citations) == 1 and one.citations[0].quote == full.citations[0].quote
    assert_verbatim(one, small_corpus)


def test_weak_evidence_is_refused_with_the_closest_passages(small_service: Service) -> None:
    answer = answerer(small_service).answer("What is the capital of Mongolia?")
    assert answer.refused and answer.answer == REFUSAL_TEXT and answer.citations == []
    assert [p.n for p in answer.passages] == [1, 2, 3]
    chunks = {c.text for c in small_service.store.iter_chunks()}
    assert all(p.quote in chunks for p in answer.passages)  # whole passages, not sentences


def test_the_threshold_decides_between_answer_and_refusal(small_service: Service) -> None:
    hits, ranked = answerer(small_service).rank(RESOLUTION)
    best = ranked[0]
    assert best.text == "The Security Council adopted resolution 1325 in October 2000."
    assert [c.support for c in ranked] == sorted((c.support for c in ranked), reverse=True)
    below = answerer(small_service, threshold=best.support - 0.01).answer(RESOLUTION)
    above = answerer(small_service, threshold=min(best.support + 0.01, 1.0)).answer(RESOLUTION)
    assert below.citations[0].quote == best.text and below.citations[0].score == best.support
    assert above.refused


def test_context_and_scope_go_into_the_answer(small_service: Service) -> None:
    scope = small_service.scope(documents=["alpha.md"])
    answer = answerer(small_service).answer(
        "How long does it run?", context="What does the alpha course train?", scope=scope
    )
    assert answer.question == "What does the alpha course train? How long does it run?"
    assert answer.scope is scope and {c.doc_id for c in answer.citations} == {"alpha.md"}
    assert answer.citations[0].quote == "It runs for two weeks every spring."


def test_the_reader_path_is_capped_by_max_sentences_too(small_service: Service) -> None:
    with_reader = ExtractiveAnswerer(
        small_service.retriever,
        small_service.embedder,
        small_service.keyword,
        k=small_service.settings.top_k,
        reader=small_service.reader,
        threshold=small_service.settings.refusal_threshold,
        max_sentences=1,
    )
    answer = with_reader.answer(TREASURY)
    assert not answer.refused and len(answer.citations) == 1
    assert answer.citations[0].doc_id == "gamma/delta.md"


def test_as_dict_rounds_scores_and_lists_everything() -> None:
    citation = Citation(1, "a.md", "A", "https://a", "p. 2", "Quote.", 10, 16, 0.123456)
    data = Answer("Quote. [1]", False, [citation], question="q").as_dict()
    assert data["citations"][0]["score"] == 0.1235 and citation.score == 0.123456
    assert data["citations"][0]["quote"] == "Quote." and data["scope"] is None
    assert set(data) == {"answer", "refused", "citations", "passages", "question", "scope"}


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "Conflict-related sexual violence (CRSV) is a crime.",
            {"crsv": "Conflict-related sexual violence"},
        ),
        ("the Department of Defense (DoD) said", {"dod": "Department of Defense"}),
        ("The Women, Peace and Security (WPS) agenda.", {"wps": "Women Peace and Security"}),
        ("item (B) of the list", {}),  # one capital letter is a label, not an acronym
        ("a report by the agency (NATO)", {}),  # the words before do not spell it
    ],
)
def test_acronyms_a_text_defines(text: str, expected: dict[str, str]) -> None:
    assert acronyms([text]) == expected
