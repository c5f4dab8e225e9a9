"""Scoped questions, tags and citations in context over a real `assistant serve`: httpx for
/api/*, the official openai client for /v1/chat/completions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.api.live import LiveProcess
from tests.api.test_http import sse_events

pytestmark = pytest.mark.slow

SANCTIONS = "What sanctions did the United States announce for conflict-related sexual violence?"
SANCTIONS_DOC = "wh-factsheet-crsv-sanctions-2023.md"  # covers it, but is not the best unscoped


def cited(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer["citations"]}


@pytest.fixture
def tagged(http: httpx.Client) -> Iterator[str]:
    """The sanctions fact sheet tagged `scope-test` for one test."""
    response = http.patch(f"/api/documents/{SANCTIONS_DOC}", json={"add": ["Scope-Test"]})
    assert response.status_code == 200, response.text
    assert "scope-test" in response.json()["tags"]
    yield "scope-test"
    http.patch(f"/api/documents/{SANCTIONS_DOC}", json={"remove": ["scope-test"]})


def test_ask_within_a_document(http: httpx.Client) -> None:
    unscoped = http.post("/api/ask", json={"question": SANCTIONS}).json()
    assert unscoped["refused"] is False and cited(unscoped) - {SANCTIONS_DOC}
    assert unscoped["scope"] is None
    scoped = http.post("/api/ask", json={"question": SANCTIONS, "documents": [SANCTIONS_DOC]})
    assert scoped.status_code == 200, scoped.text
    answer = scoped.json()
    assert answer["refused"] is False and cited(answer) == {SANCTIONS_DOC}
    assert answer["scope"] == {"documents": [SANCTIONS_DOC], "tags": [], "matched": [SANCTIONS_DOC]}


def test_chat_within_a_tag_json_and_stream(http: httpx.Client, tagged: str) -> None:
    listed = http.get("/api/documents", params={"tag": tagged}).json()["documents"]
    assert [d["doc_id"] for d in listed] == [SANCTIONS_DOC]
    body = {"messages": [{"role": "user", "content": SANCTIONS}], "tags": [tagged]}
    answer = http.post("/api/chat", json=body).json()
    assert answer["refused"] is False and cited(answer) == {SANCTIONS_DOC}
    assert answer["scope"]["tags"] == [tagged]
    events = sse_events(http.post("/api/chat", json={**body, "stream": True}).text)
    done = next(data for event, data in events if event == "done")
    assert cited(done) == {SANCTIONS_DOC}


def test_openai_route_takes_the_scope_as_extra_body(live_server: LiveProcess) -> None:
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused", max_retries=0) as c:
        completion = c.chat.completions.create(
            model="cited-assistant",
            messages=[{"role": "user", "content": SANCTIONS}],
            extra_body={"documents": [SANCTIONS_DOC]},
        )
        extra = completion.model_extra or {}
        assert extra["refused"] is False and cited(extra) == {SANCTIONS_DOC}
        with pytest.raises(openai.BadRequestError, match="no document has the tag"):
            c.chat.completions.create(
                model="cited-assistant",
                messages=[{"role": "user", "content": SANCTIONS}],
                extra_body={"tags": ["no-such-tag"]},
            )


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/ask", {"question": SANCTIONS, "documents": ["nope.md"]}, "no document with id"),
        ("/api/ask", {"question": SANCTIONS, "tags": ["no-such-tag"]}, "no document has the tag"),
        ("/api/ask", {"question": SANCTIONS, "tags": ["not a tag!"]}, "invalid tag"),
        (
            "/api/chat",
            {"messages": [{"role": "user", "content": SANCTIONS}], "documents": ["nope.md"]},
            "no document with id",
        ),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "x"}], "tags": 3},
            "`tags` must be a list",
        ),
    ],  # fmt: skip
    ids=["unknown document", "unknown tag", "invalid tag", "chat", "openai malformed"],
)
def test_a_scope_matching_nothing_is_a_4xx(
    http: httpx.Client, path: str, body: dict[str, Any], message: str
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_tags_on_upload_and_edit(http: httpx.Client) -> None:
    files = {"files": ("belem-notes.md", b"# Notes\n\nThe convention protects women.\n")}
    report = http.post("/api/documents", files=files, data={"tags": "belem, Americas"})
    assert report.status_code == 200, report.text
    try:
        listed = {d["doc_id"]: d for d in http.get("/api/documents").json()["documents"]}
        assert listed["belem-notes.md"]["tags"] == ["americas", "belem"]
        replaced = http.patch("/api/documents/belem-notes.md", json={"tags": ["course"]})
        assert replaced.json()["tags"] == ["course"]
        assert http.patch("/api/documents/nope.md", json={"add": ["x"]}).status_code == 404
        bad = http.patch("/api/documents/belem-notes.md", json={"colour": "red"})
        assert bad.status_code == 422
    finally:
        assert http.delete("/api/documents/belem-notes.md").status_code == 200
    assert http.get("/api/documents", params={"tag": "course"}).json()["documents"] == []


def test_a_citation_opens_in_its_context(http: httpx.Client) -> None:
    answer = http.post("/api/ask", json={"question": SANCTIONS}).json()
    first = answer["citations"][0]
    params = {"doc_id": first["doc_id"], "start": first["start"], "end": first["end"]}
    passage = http.get("/api/passage", params=params)
    assert passage.status_code == 200, passage.text
    data = passage.json()
    assert data["quote"] == first["quote"]
    inner = data["text"][data["quote_start"] - data["start"] : data["quote_end"] - data["start"]]
    assert inner == first["quote"] and len(data["text"]) > len(first["quote"])
    assert not data["source"].startswith("/")  # never a path on the server
    missing = http.get("/api/passage", params={**params, "doc_id": "nope.md"})
    assert missing.status_code == 404 and "no document" in missing.json()["error"]["message"]
    backwards = http.get("/api/passage", params={**params, "end": first["start"]})
    assert backwards.status_code == 400


def test_the_original_file_is_served_without_its_path(http: httpx.Client) -> None:
    act = "wps-act-22usc-2152j.md"
    passage = http.get("/api/passage", params={"doc_id": act, "start": 0, "end": 20}).json()
    assert passage["has_file"] is True and passage["page"] is None
    original = http.get("/api/original", params={"doc_id": act})
    assert original.status_code == 200 and original.headers["content-type"].startswith("text/plain")
    assert (
        original.text.lstrip().startswith("#")
        and "/" not in original.headers.get("content-disposition", "").split("filename=")[-1]
    )
    missing = http.get("/api/original", params={"doc_id": "nope.md"})
    assert missing.status_code == 404 and "no document" in missing.json()["error"]["message"]
