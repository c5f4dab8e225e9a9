"""ASSISTANT_API_KEY protects every route but /health and the page; CORS is off by default."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.embedding import Embedder
from tests.api.conftest import sample_app

KEY = "s3cret-key-for-tests"
PUBLIC = {"/", "/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"}


@pytest.fixture(scope="module")
def keyed(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path, embedder: Embedder
) -> Iterator[TestClient]:
    app = sample_app(tmp_path_factory, sample_data_dir, embedder, api_key=KEY)
    with TestClient(app) as client:
        yield client


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, concrete path) in the OpenAPI document, path parameters filled in."""
    schema = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "some-id.md", path))
        for path, operations in schema["paths"].items()
        for method in operations
    ]


def test_the_protected_set_is_everything_but_the_public_routes(keyed: TestClient) -> None:
    paths = {path for _, path in routes(keyed)}
    assert {"/api/ask", "/api/chat", "/api/documents", "/v1/chat/completions"} <= paths
    assert "/api/documents/some-id.md" in paths


def test_every_protected_route_answers_401_without_the_key(keyed: TestClient) -> None:
    checked = 0
    for method, path in routes(keyed):
        if path in PUBLIC or method == "HEAD":
            continue
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": f"Basic {KEY}"}):
            response = keyed.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
            assert "API key" in response.json()["error"]["message"]
            assert response.headers["www-authenticate"] == "Bearer"
        checked += 1
    assert checked >= 7


def test_401_comes_before_body_parsing(keyed: TestClient) -> None:
    response = keyed.post(
        "/api/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert keyed.post("/api/documents", content=b"x" * 10).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}, {"X-API-Key": KEY}],
    ids=["bearer", "bearer lower case", "x-api-key"],
)
def test_the_key_opens_the_routes(keyed: TestClient, headers: dict[str, str]) -> None:
    assert keyed.get("/api/documents", headers=headers).status_code == 200
    answer = keyed.post(
        "/api/ask",
        headers=headers,
        json={"question": "Who co-chaired the WPS Focal Points Network?"},
    )
    assert answer.status_code == 200 and "answer" in answer.json()
    models = keyed.get("/v1/models", headers=headers)
    assert models.status_code == 200


def test_health_page_and_assets_stay_public(keyed: TestClient) -> None:
    assert keyed.get("/health").status_code == 200
    page = keyed.get("/")
    assert page.status_code == 200 and "<form" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert keyed.get(asset).status_code == 200


def test_cors_is_off_unless_configured(client: TestClient) -> None:
    response = client.get("/api/documents", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/api/ask",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_configured_origins(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path, embedder: Embedder
) -> None:
    app = sample_app(
        tmp_path_factory,
        sample_data_dir,
        embedder,
        api_key=KEY,
        cors_origins=["https://intranet.example"],
    )
    with TestClient(app) as client:
        preflight = client.options(
            "/api/ask",
            headers={
                "Origin": "https://intranet.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://intranet.example"
        denied = client.get("/api/documents", headers={"Origin": "https://intranet.example"})
        assert denied.status_code == 401  # CORS headers on the error too, so the page sees it
        assert denied.headers["access-control-allow-origin"] == "https://intranet.example"
        other = client.get(
            "/api/documents", headers={"Origin": "https://evil.example", "X-API-Key": KEY}
        )
        assert "access-control-allow-origin" not in other.headers
