"""Every bad request gets a 4xx JSON error with a message: never a 500, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

QUESTION = "How much money in total was committed to Women LEAD?"
HUGE = "why " * 25_000  # 100 KB
USER = {"role": "user", "content": QUESTION}

BAD_JSON_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    # (name, path, httpx request keyword arguments)
    (
        "malformed json",
        "/api/ask",
        {"content": b'{"question": ', "headers": {"content-type": "application/json"}},
    ),
    ("not json at all", "/api/ask", {"content": b"question=hello"}),
    ("json array", "/api/ask", {"json": [QUESTION]}),
    ("empty body", "/api/ask", {}),
    ("missing question", "/api/ask", {"json": {}}),
    ("question wrong type", "/api/ask", {"json": {"question": 42}}),
    ("empty question", "/api/ask", {"json": {"question": ""}}),
    ("blank question", "/api/ask", {"json": {"question": "   "}}),
    ("100 KB question", "/api/ask", {"json": {"question": HUGE}}),
    ("question over the setting", "/api/ask", {"json": {"question": "x" * 5000}}),
    ("k out of range", "/api/ask", {"json": {"question": QUESTION, "k": 500}}),
    ("unknown field", "/api/ask", {"json": {"question": QUESTION, "temperature": 1}}),
    (
        "bad history role",
        "/api/ask",
        {"json": {"question": QUESTION, "history": [{"role": "bot", "content": "x"}]}},
    ),
    (
        "chat malformed json",
        "/api/chat",
        {"content": b"{", "headers": {"content-type": "application/json"}},
    ),
    ("chat no messages", "/api/chat", {"json": {"messages": []}}),
    ("chat missing messages", "/api/chat", {"json": {"stream": True}}),
    (
        "chat last not user",
        "/api/chat",
        {"json": {"messages": [USER, {"role": "assistant", "content": "hi"}]}},
    ),
    (
        "chat 100 KB question",
        "/api/chat",
        {"json": {"messages": [{"role": "user", "content": HUGE}]}},
    ),
    (
        "chat 100 KB streamed",
        "/api/chat",
        {"json": {"messages": [{"role": "user", "content": HUGE}], "stream": True}},
    ),
    (
        "openai malformed json",
        "/v1/chat/completions",
        {"content": b"[{", "headers": {"content-type": "application/json"}},
    ),
    ("openai missing messages", "/v1/chat/completions", {"json": {"model": "x"}}),
    (
        "openai 100 KB question",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": HUGE}]}},
    ),
    (
        "openai only system",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "system", "content": "be brief"}]}},
    ),
    (
        "openai image part",
        "/v1/chat/completions",
        {
            "json": {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ]
            }
        },
    ),
    (
        "openai bad role",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "robot", "content": "x"}]}},
    ),
    (
        "openai stream 100 KB",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": HUGE}], "stream": True}},
    ),
]


def assert_client_error(response: Any, status: int | None = None) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"] and error["status"] == response.status_code
    assert "Traceback" not in response.text
    return dict(error)


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [(p, k) for _, p, k in BAD_JSON_REQUESTS],
    ids=[n for n, _, _ in BAD_JSON_REQUESTS],
)
def test_bad_requests_are_4xx_json(client: TestClient, path: str, kwargs: dict[str, Any]) -> None:
    assert_client_error(client.post(path, **kwargs))


def test_malformed_json_says_so(client: TestClient) -> None:
    response = client.post(
        "/api/ask", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert "malformed JSON" in assert_client_error(response, 400)["message"]


def test_missing_field_is_named(client: TestClient) -> None:
    message = assert_client_error(client.post("/api/ask", json={}), 422)["message"]
    assert "question" in message and "required" in message


def test_long_question_names_the_limit(client: TestClient) -> None:
    message = assert_client_error(client.post("/api/ask", json={"question": "x" * 5000}), 400)[
        "message"
    ]
    assert "ASSISTANT_MAX_QUESTION_CHARS" in message


UPLOADS: list[tuple[str, list[tuple[str, bytes]], int]] = [
    # (name, files, expected status)
    ("oversize", [("big.txt", b"word " * 20_000)], 413),
    ("binary as text", [("data.txt", bytes(range(256)) * 8)], 415),
    ("binary as markdown", [("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)], 415),
    ("executable", [("tool.exe", b"MZ\x90\x00" * 100)], 415),
    ("no extension", [("README", b"plain words here")], 415),
    ("fake pdf", [("paper.pdf", b"this is not a pdf")], 415),
    ("fake docx", [("letter.docx", b"this is not a zip")], 415),
    ("corrupt pdf", [("broken.pdf", b"%PDF-1.4\n garbage without objects")], 400),
    ("empty", [("empty.txt", b"")], 400),
    ("whitespace only", [("blank.md", b" \n\n \t")], 400),
    ("no text encoding fits", [("noise.txt", bytes(range(128, 256)) * 8)], 415),
    ("unusable name", [("...", b"some text")], 400),
    ("duplicate names", [("a.txt", b"one"), ("dir/a.txt", b"two")], 400),
    ("too many files", [(f"f{i}.txt", b"text") for i in range(21)], 400),
]


@pytest.mark.parametrize(
    ("files", "status"), [(f, s) for _, f, s in UPLOADS], ids=[n for n, _, _ in UPLOADS]
)
def test_bad_uploads_are_rejected(
    client: TestClient, files: list[tuple[str, bytes]], status: int
) -> None:
    before = client.get("/api/documents").json()["documents"]
    response = client.post("/api/documents", files=[("files", f) for f in files])
    assert_client_error(response, status)
    assert client.get("/api/documents").json()["documents"] == before
    uploads = client.app.state.service.uploads.root  # type: ignore[attr-defined]
    assert not uploads.exists() or not any(uploads.iterdir())  # nothing written or left behind


def test_upload_without_files_field(client: TestClient) -> None:
    response = client.post("/api/documents", data={"other": "x"})
    assert "files" in assert_client_error(response, 422)["message"]


def test_upload_as_json_is_rejected(client: TestClient) -> None:
    assert_client_error(client.post("/api/documents", json={"files": ["a.txt"]}), 422)


def test_request_body_over_the_limit_is_refused_before_parsing(client: TestClient) -> None:
    body = b'{"question": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert_client_error(response, 413)


def test_chunked_body_over_the_limit_is_cut_off(client: TestClient) -> None:
    def body() -> Iterator[bytes]:  # no Content-Length: the guard counts as it reads
        yield b'{"question": "'
        for _ in range(500):
            yield b"x" * 10_000
        yield b'"}'

    response = client.post("/api/ask", content=body(), headers={"content-type": "application/json"})
    assert_client_error(response, 413)


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    assert_client_error(client.get("/api/nothing-here"), 404)
    assert_client_error(client.get("/api/ask"), 405)
    assert_client_error(client.put("/api/documents"), 405)


def test_deleting_an_unknown_document(client: TestClient) -> None:
    response = client.delete("/api/documents/folder/missing.md")
    assert (
        "no document with id 'folder/missing.md'" in assert_client_error(response, 404)["message"]
    )


def test_unexpected_errors_are_json_500_without_traceback(client: TestClient) -> None:
    from fastapi.testclient import TestClient as Client

    app = client.app

    def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/api/test-explode", explode)  # type: ignore[attr-defined]
    with Client(app, raise_server_exceptions=False) as raw:
        response = raw.get("/api/test-explode")
    assert response.status_code == 500
    assert response.json()["error"]["message"].startswith("internal error")
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
