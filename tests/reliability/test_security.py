"""Security: constant-time key check, upload limits, no path traversal, no stack traces or
file paths in responses, CORS off by default."""

from __future__ import annotations

import hmac
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import Service
from ingest.embedding import Embedder
from tests.conftest import make_settings

KEY = "correct horse battery staple"
LIMIT = 64 * 1024


def app_over_copy(root: Path, sample_data_dir: Path, embedder: Embedder, **overrides: Any) -> Any:
    data_dir = root / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(data_dir, max_upload_bytes=LIMIT, **overrides)
    return create_app(Service(settings, embedder=embedder))


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path, embedder: Embedder
) -> Iterator[TestClient]:
    app = app_over_copy(tmp_path_factory.mktemp("keyed"), sample_data_dir, embedder, api_key=KEY)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def open_app(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path, embedder: Embedder
) -> Iterator[TestClient]:
    app = app_over_copy(tmp_path_factory.mktemp("open"), sample_data_dir, embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_the_api_key_is_compared_in_constant_time(
    keyed: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    near_miss = KEY[:-1] + "X"  # same length, last byte differs
    for headers in ({"X-API-Key": near_miss}, {"Authorization": f"Bearer {near_miss}"}):
        assert keyed.get("/api/documents", headers=headers).status_code == 401
    assert keyed.get("/api/documents", headers={"X-API-Key": KEY}).status_code == 200
    assert len(calls) == 3 and all(b == KEY.encode() for _, b in calls)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "ключ"},
        {"Authorization": "Bearer \u00ff\u00fe"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"X-API-Key": ""},
    ],
    ids=["non-ascii-key", "latin1-bearer", "basic-auth", "empty-bearer", "empty-key"],
)
def test_odd_credentials_are_401_not_500(keyed: TestClient, headers: dict[str, str]) -> None:
    encoded = {k.encode(): v.encode("utf-8") for k, v in headers.items()}  # raw bytes
    response = keyed.get("/api/documents", headers=encoded)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["type"] == "authentication_error"


def test_an_upload_over_the_file_limit_is_413(open_app: TestClient) -> None:
    files = [("files", ("big.txt", b"word " * (LIMIT // 4), "text/plain"))]
    response = open_app.post("/api/documents", files=files)
    assert response.status_code == 413 and "ASSISTANT_MAX_UPLOAD_BYTES" in response.text


def test_an_upload_body_over_the_total_limit_is_refused_before_parsing(
    open_app: TestClient,
) -> None:
    total = LIMIT * 20 + 1024 * 1024  # 20 files at the limit, plus 1 MB of form overhead
    body = b"--x\r\n" + b"a" * (total + 1) + b"\r\n--x--\r\n"
    response = open_app.post(
        "/api/documents",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413, response.text


@pytest.mark.parametrize(
    "name",
    [
        "../../../escape-1.md",
        "..\\..\\escape-2.md",
        "/tmp/escape-3.md",
        "uploads/../../escape-4.md",
        "....//....//escape-5.md",
        "%2e%2e%2fescape-6.md",
    ],
)
def test_upload_names_cannot_leave_the_upload_folder(open_app: TestClient, name: str) -> None:
    service = open_app.app.state.service  # type: ignore[attr-defined]
    data_dir = service.settings.data_dir
    before = {p for p in data_dir.parent.rglob("*") if "uploads" not in p.parts}
    body = f"# Escape\n\nThe escape note {name} names the Tarija depot.\n".encode()
    response = open_app.post("/api/documents", files=[("files", (name, body, "text/markdown"))])
    assert response.status_code == 200, response.text
    doc_id = response.json()["documents"][0]
    assert "/" not in doc_id and "\\" not in doc_id and not doc_id.startswith(".")
    after = {p for p in data_dir.parent.rglob("*") if "uploads" not in p.parts}
    new_outside = {p for p in after - before if "chroma" not in p.parts}
    assert not {p for p in new_outside if p.suffix == ".md"}, new_outside
    assert (service.uploads.root / doc_id).is_file()
    assert open_app.delete(f"/api/documents/{doc_id}").status_code == 200


def test_delete_cannot_reach_outside_the_upload_folder(open_app: TestClient) -> None:
    service = open_app.app.state.service  # type: ignore[attr-defined]
    victim = service.settings.data_dir / "victim.md"
    victim.write_text("# Victim\n\nMust survive.\n")
    for doc_id in ["../victim.md", "..%2Fvictim.md", "uploads/../../victim.md"]:
        response = open_app.delete(f"/api/documents/{doc_id}")
        assert response.status_code == 404, response.text
    assert victim.read_text() == "# Victim\n\nMust survive.\n"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../api.py",
        "/static/..%2fapi.py",
        "/static/%2e%2e/api.py",
        "/static/..%2f..%2fsettings.py",
        "/static//etc/passwd",
    ],
)
def test_static_files_do_not_serve_source_or_system_files(open_app: TestClient, path: str) -> None:
    response = open_app.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert "def " not in response.text and "root:" not in response.text


def test_an_internal_error_shows_no_traceback_or_file_paths(
    tmp_path: Path, sample_data_dir: Path, embedder: Embedder
) -> None:
    """A store broken under a running app (its chunk table gone) is an internal error."""
    app = app_over_copy(tmp_path, sample_data_dir, embedder)
    data_dir = app.state.service.settings.data_dir
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/documents").status_code == 200
        with sqlite3.connect(data_dir / "chroma" / "chroma.sqlite3") as db:
            db.execute("DROP TABLE embeddings")
        responses = [
            client.get("/api/documents"),
            client.post("/api/ask", json={"question": "What does the WPS Act require?"}),
            client.get("/health"),
        ]
    for response in responses:
        assert response.status_code >= 500, response.text
        text = response.text
        assert "Traceback" not in text and 'File "' not in text and ".py" not in text
        assert str(data_dir) not in text and "/work/" not in text and "site-packages" not in text
    assert responses[0].json()["error"]["message"].startswith("internal error")


def test_cors_is_off_without_configuration(open_app: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    preflight = open_app.options(
        "/api/ask", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    simple = open_app.get("/api/documents", headers=origin)
    for response in (preflight, simple):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers
