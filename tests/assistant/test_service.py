"""Questions limited to chosen documents or tags, tags that stay with their document, and a
citation shown in its context — through the real service, store and model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import BadRequest, NotFound
from assistant.service import Service

SANCTIONS = "What sanctions did the United States announce for conflict-related sexual violence?"
SANCTIONS_DOC = "wh-factsheet-crsv-sanctions-2023.md"  # covers it, but is not the best unscoped
ACT = "wps-act-22usc-2152j.md"


def cited(answer: object) -> set[str]:
    return {c.doc_id for c in answer.citations}  # type: ignore[attr-defined]


def test_a_scoped_question_is_answered_from_the_chosen_document(sample_service: Service) -> None:
    unscoped = sample_service.ask(SANCTIONS)
    assert not unscoped.refused and cited(unscoped) - {SANCTIONS_DOC}  # better passages elsewhere
    scope = sample_service.scope(documents=[SANCTIONS_DOC])
    answer = sample_service.ask(SANCTIONS, scope=scope)
    assert not answer.refused and cited(answer) == {SANCTIONS_DOC}
    assert answer.as_dict()["scope"] == {
        "documents": [SANCTIONS_DOC],
        "tags": [],
        "matched": [SANCTIONS_DOC],
    }


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_scoped_retrieval_searches_inside_the_scope(sample_service: Service, mode: str) -> None:
    # the act is nowhere near the top for this question, yet a scoped search fills k from it
    unscoped = sample_service.retriever.search(SANCTIONS, 6, mode=mode)
    assert ACT not in {h.chunk.doc_id for h in unscoped}
    scope = sample_service.scope(documents=[ACT])
    hits = sample_service.retriever.search(SANCTIONS, 6, mode=mode, scope=scope)
    assert len(hits) == 6 and {h.chunk.doc_id for h in hits} == {ACT}


def test_a_scope_that_does_not_cover_the_question_refuses(sample_service: Service) -> None:
    question = "Who leads the Gender Policy Council?"
    assert not sample_service.ask(question).refused
    answer = sample_service.ask(question, scope=sample_service.scope(documents=[ACT]))
    assert answer.refused and answer.citations == []
    assert {p.doc_id for p in answer.passages} <= {ACT}


@pytest.mark.parametrize(
    ("documents", "tags", "message"),
    [
        (["no-such-doc.md"], [], "no document with id 'no-such-doc.md'"),
        ([], ["no-such-tag"], "no document has the tag 'no-such-tag'"),
        ([], ["bad tag!"], "invalid tag 'bad tag!'"),
    ],
    ids=["unknown document", "unknown tag", "invalid tag"],
)
def test_a_scope_matching_nothing_is_a_bad_request(
    sample_service: Service, documents: list[str], tags: list[str], message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        sample_service.scope(documents, tags)


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_tags_survive_reingest_and_go_with_their_document(service: Service, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    belem = _write(docs, "belem.md", "# Belém do Pará\n\nThe convention protects women.\n")
    _write(docs, "other.md", "# Other\n\nAn unrelated memo about logistics.\n")
    service.ingest([belem], tags=["Belem-do-Para", "convention"])
    service.ingest([docs])  # the folder, untagged: belem keeps its tags, other has none
    tags = {r.doc_id: r.tag_list for r in service.sources()}
    assert tags == {"belem.md": ["belem-do-para", "convention"], "other.md": []}

    belem.write_text("# Belém do Pará\n\nThe convention protects women and girls.\n")
    report = service.ingest([docs], tags=["americas"])  # a changed file keeps and adds tags
    assert report.updated == 1
    assert service.sources("americas")[0].tag_list == ["americas", "belem-do-para", "convention"]
    assert [r.doc_id for r in service.sources("convention")] == ["belem.md"]

    record = service.set_tags("belem.md", remove=["americas"])
    assert record.tag_list == ["belem-do-para", "convention"]
    scope = service.scope(tags=["convention"])
    assert scope is not None and scope.doc_ids == {"belem.md"}

    service.remove("belem.md")
    with pytest.raises(BadRequest, match="no document has the tag 'convention'"):
        service.scope(tags=["convention"])
    service.ingest([docs])  # the same file back: a new document, without the old tags
    assert {r.doc_id: r.tag_list for r in service.sources()}["belem.md"] == []
    with pytest.raises(NotFound):
        service.set_tags("gone.md", add=["x"])


def test_a_citation_in_its_context(sample_service: Service) -> None:
    answer = sample_service.ask(SANCTIONS, scope=sample_service.scope(documents=[SANCTIONS_DOC]))
    citation = answer.citations[0]
    passage = sample_service.passage(citation.doc_id, citation.start, citation.end)
    assert passage.quote == citation.quote
    assert passage.start <= citation.start and len(passage.text) > len(citation.quote)
    assert passage.source.startswith("https://")  # its URL; never a server path
    act = sample_service.passage(ACT, 0, 40)
    assert act.source == ACT and act.text.startswith(act.quote)
    with pytest.raises(BadRequest):
        sample_service.passage(ACT, 50, 10)
    with pytest.raises(NotFound):
        sample_service.passage(ACT, 10**7, 10**7 + 5)
