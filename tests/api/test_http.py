"""The HTTP API over a real `assistant serve` process, exercised with httpx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

QUESTION = "How much money in total was committed to Women LEAD?"
UNANSWERABLE = "What is the boiling point of mercury on Jupiter?"
NOTE_NAME = "field-notes-ostrava.md"
NOTE = """---
title: Field notes from the Ostrava gender advisor course
---

# Ostrava course, 2031

The Ostrava gender advisor course in 2031 trained exactly 37 participants from nine partner
nations. Its final exercise, called Blue Lantern, simulated a civilian evacuation.
"""
NOTE_QUESTION = "How many participants did the Ostrava gender advisor course train?"


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        event, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
        events.append((event, json.loads(data)))
    return events


def cited_docs(answer: dict[str, Any]) -> set[str]:
    return {c["doc_id"] for c in answer["citations"]}


def test_health_reports_store_and_model(http: httpx.Client) -> None:
    health = http.get("/health").json()
    assert health["ok"] is True
    assert health["store"]["ok"] is True and health["store"]["chunks"] > 100
    assert health["model"]["loaded"] is True


def test_ask_answers_with_citations(http: httpx.Client) -> None:
    response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert answer["refused"] is False
    assert "[1]" in answer["answer"]
    first = answer["citations"][0]
    assert set(first) >= {
        "n",
        "doc_id",
        "title",
        "source",
        "location",
        "quote",
        "start",
        "end",
        "score",
    }
    assert first["quote"] in answer["answer"]


def test_ask_refuses_when_the_sources_do_not_answer(http: httpx.Client) -> None:
    answer = http.post("/api/ask", json={"question": UNANSWERABLE}).json()
    assert answer["refused"] is True and answer["citations"] == []
    assert "don't answer" in answer["answer"]


def test_chat_json_and_stream_agree(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    plain = http.post("/api/chat", json=body).json()
    streamed = http.post("/api/chat", json={**body, "stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"answer"}
    assert len(names) >= 3
    text = "".join(data["delta"] for name, data in events if name == "answer")
    assert text == plain["answer"]
    assert events[-2][1]["citations"] == plain["citations"]
    assert events[-1][1]["answer"] == plain["answer"]


def test_chat_streams_when_the_client_accepts_event_stream(http: httpx.Client) -> None:
    response = http.post(
        "/api/chat",
        json={"messages": [{"role": "user", "content": QUESTION}]},
        headers={"Accept": "text/event-stream"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert sse_events(response.text)[-1][0] == "done"


def test_follow_up_uses_the_conversation(http: httpx.Client) -> None:
    first = (
        "Which Senate committees are the appropriate congressional committees in the WPS statute?"
    )
    opening = http.post("/api/ask", json={"question": first}).json()
    history = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": opening["answer"]},
    ]
    follow = http.post(
        "/api/ask", json={"question": "And in the House?", "history": history}
    ).json()
    assert follow["refused"] is False
    assert "House of Representatives" in " ".join(c["quote"] for c in follow["citations"])


def test_documents_list(http: httpx.Client) -> None:
    documents = http.get("/api/documents").json()["documents"]
    assert len(documents) >= 12
    act = next(d for d in documents if d["doc_id"] == "wps-act-22usc-2152j.md")
    assert act["title"] and act["chunks"] > 0 and act["ingested_at"].endswith("Z")
    assert set(act) == {
        "doc_id",
        "title",
        "source",
        "date",
        "chunks",
        "ingested_at",
        "tags",
        "language",
    }
    assert act["source"] == act["doc_id"]  # its name: no path on the server is shown
    assert act["language"] == "en"


def test_upload_is_answerable_at_once_and_gone_after_delete(http: httpx.Client) -> None:
    before = http.post("/api/ask", json={"question": NOTE_QUESTION}).json()
    assert NOTE_NAME not in cited_docs(before)

    files = {"files": (f"../../{NOTE_NAME}", NOTE.encode(), "text/markdown")}
    uploaded = http.post("/api/documents", files=files)
    assert uploaded.status_code == 200, uploaded.text
    report = uploaded.json()
    assert report["documents"] == [NOTE_NAME] and report["added"] == 1 and report["failed"] == []

    listed = {d["doc_id"]: d for d in http.get("/api/documents").json()["documents"]}
    assert listed[NOTE_NAME]["title"] == "Field notes from the Ostrava gender advisor course"

    answer = http.post("/api/ask", json={"question": NOTE_QUESTION}).json()
    assert answer["refused"] is False and NOTE_NAME in cited_docs(answer)
    assert "37 participants" in answer["answer"]

    # same name again with new text: an update, and the old text is gone
    changed = NOTE.replace("37 participants", "41 participants")
    files = {"files": (NOTE_NAME, changed.encode(), "text/markdown")}
    report = http.post("/api/documents", files=files).json()
    assert report["updated"] == 1 and report["added"] == 0
    answer = http.post("/api/ask", json={"question": NOTE_QUESTION}).json()
    assert "41 participants" in answer["answer"] and "37 participants" not in answer["answer"]

    deleted = http.delete(f"/api/documents/{NOTE_NAME}")
    assert deleted.status_code == 200 and deleted.json()["removed_chunks"] >= 1
    assert NOTE_NAME not in {d["doc_id"] for d in http.get("/api/documents").json()["documents"]}
    after = http.post("/api/ask", json={"question": NOTE_QUESTION}).json()
    assert NOTE_NAME not in cited_docs(after)
    assert http.delete(f"/api/documents/{NOTE_NAME}").status_code == 404


def test_an_upload_never_replaces_a_document_of_another_file(http: httpx.Client) -> None:
    act = "wps-act-22usc-2152j.md"  # ingested from the sample folder
    before = next(d for d in http.get("/api/documents").json()["documents"] if d["doc_id"] == act)
    files = {"files": (act, b"# Other act\n\nA different file with the same name.\n")}
    report = http.post("/api/documents", files=files).json()
    [stored] = report["files"]
    assert stored["name"] == act and stored["status"] == "added" and stored["doc_id"] != act
    assert report["documents"] == [stored["doc_id"]]
    listed = {d["doc_id"]: d for d in http.get("/api/documents").json()["documents"]}
    assert listed[act] == before  # the sample act is untouched
    assert http.delete(f"/api/documents/{stored['doc_id']}").status_code == 200
    assert act in {d["doc_id"] for d in http.get("/api/documents").json()["documents"]}


def test_several_files_in_one_upload(http: httpx.Client) -> None:
    files = [
        (
            "files",
            (
                "alpha-memo.txt",
                b"The alpha memo sets the quarterly review for the Lisbon cell.",
                "text/plain",
            ),
        ),
        (
            "files",
            (
                "beta-page.html",
                b"<html><head><title>Beta page</title></head>"
                b"<body><p>The beta page lists the Quito liaison officers.</p></body></html>",
                "text/html",
            ),
        ),
    ]
    report = http.post("/api/documents", files=files).json()
    assert sorted(report["documents"]) == ["alpha-memo.txt", "beta-page.html"]
    assert report["added"] == 2
    for doc_id in report["documents"]:
        assert http.delete(f"/api/documents/{doc_id}").status_code == 200


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"content": b'{"question": ', "headers": {"content-type": "application/json"}}, 400),
        ({"json": {}}, 422),
        ({"json": {"question": "x" * 100_000}}, 422),
    ],
    ids=["malformed json", "missing field", "100 KB question"],
)
def test_bad_requests_over_http(
    http: httpx.Client, request_kwargs: dict[str, Any], status: int
) -> None:
    response = http.post("/api/ask", **request_kwargs)
    assert response.status_code == status
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [("big.txt", b"word " * 60_000, 413), ("blob.txt", bytes(range(256)) * 64, 415)],
    ids=["oversize", "binary"],
)
def test_bad_uploads_over_http(http: httpx.Client, name: str, data: bytes, status: int) -> None:
    response = http.post(
        "/api/documents", files={"files": (name, data, "application/octet-stream")}
    )
    assert response.status_code == status
    assert response.json()["error"]["message"].startswith(name)


def test_page_and_openapi(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert http.get("/static/app.js").status_code == 200
    schema = http.get("/openapi.json").json()
    assert {"/api/ask", "/api/chat", "/v1/chat/completions", "/api/documents", "/health"} <= set(
        schema["paths"]
    )
    assert http.get("/docs").status_code == 200
