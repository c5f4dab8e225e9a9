"""A failing store: with the Chroma server down, the API answers 503 with a JSON message and
/health says why; when the server is back, the same app process recovers by itself."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import Service
from ingest.embedding import Embedder
from tests.api.live import start_chroma
from tests.conftest import make_settings
from tests.reliability.servers import restart

pytestmark = pytest.mark.slow

QUESTION = "How much money in total was committed to Women LEAD?"
USER = [{"role": "user", "content": QUESTION}]
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/ask", {"json": {"question": QUESTION}}),
    ("POST", "/api/chat", {"json": {"messages": USER}}),
    ("POST", "/api/chat", {"json": {"messages": USER, "stream": True}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": USER}}),
    ("POST", "/v1/chat/completions", {"json": {"messages": USER, "stream": True}}),
    ("GET", "/api/documents", {}),
    (
        "POST",
        "/api/documents",
        {"files": [("files", ("outage-note.md", b"# Outage\n\nA note.\n", "text/markdown"))]},
    ),
    ("DELETE", "/api/documents/wps-act-22usc-2152j.md", {}),
]


class Outage:
    """The app over a Chroma server holding a copy of the ingested sample corpus."""

    def __init__(self, root: Path, sample_data_dir: Path, embedder: Embedder) -> None:
        shutil.copytree(sample_data_dir / "chroma", root / "server-data")
        self.chroma = start_chroma(root / "server-data", root / "run")
        settings = make_settings(root / "app-data", chroma_url=self.chroma.url)
        self.service = Service(settings, embedder=embedder)
        self.client = TestClient(create_app(self.service))

    def stop(self, sig: int) -> None:
        os.kill(self.chroma.proc.pid, sig)
        self.chroma.proc.wait(timeout=30)

    def start(self) -> None:
        self.chroma = restart(self.chroma)


@pytest.fixture(scope="module")
def outage(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path, embedder: Embedder
) -> Iterator[Outage]:
    setup = Outage(tmp_path_factory.mktemp("outage"), sample_data_dir, embedder)
    with setup.client:
        yield setup
    setup.chroma.stop()


def assert_working(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["store"]["ok"] is True
    answer = client.post("/api/ask", json={"question": QUESTION})
    assert answer.status_code == 200, answer.text
    assert answer.json()["citations"], answer.json()
    documents = client.get("/api/documents")
    assert documents.status_code == 200 and len(documents.json()["documents"]) >= 12


def assert_down(outage: Outage) -> None:
    client = outage.client
    for method, path, kwargs in REQUESTS:
        started = time.monotonic()
        response = client.request(method, path, **kwargs)
        assert time.monotonic() - started < 30, f"{method} {path} hung"
        assert response.status_code == 503, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers.get("retry-after") == "5"
        error = response.json()["error"]
        assert error["type"] == "service_unavailable" and error["status"] == 503
        assert "cannot reach the Chroma server" in error["message"], error
        assert "Traceback" not in response.text
    health = client.get("/health")
    assert health.status_code == 503
    body = health.json()
    assert body["ok"] is False and body["store"]["ok"] is False
    assert body["store"]["where"] == outage.chroma.url
    assert "cannot reach the Chroma server" in body["store"]["error"]
    uploads = outage.service.uploads.root
    assert not uploads.exists() or not any(uploads.iterdir()), "the failed upload was kept"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_store_outage_is_503_json_and_the_same_app_recovers(outage: Outage, how: int) -> None:
    assert_working(outage.client)
    outage.stop(how)
    assert_down(outage)
    assert_down(outage)  # and it stays a clean 503 on repeated requests
    outage.start()
    assert_working(outage.client)  # the same process: no restart, no retry needed
    assert outage.client.get("/api/documents").json()["documents"]


def test_an_app_started_while_the_store_is_down_recovers_when_it_comes_up(
    tmp_path: Path, sample_data_dir: Path, embedder: Embedder
) -> None:
    setup = Outage(tmp_path, sample_data_dir, embedder)
    setup.stop(signal.SIGTERM)
    with setup.client:
        assert_down(setup)
        setup.start()
        try:
            assert_working(setup.client)
        finally:
            setup.chroma.stop()
