"""Fixtures for the HTTP layer: one real `assistant serve` per package, in-process apps."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import Service
from ingest.embedding import Embedder
from tests.api.live import LiveProcess, start_app
from tests.conftest import make_settings


@pytest.fixture(scope="package")
def live_server(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveProcess]:
    """`assistant serve` in a subprocess over a copy of the ingested sample corpus."""
    root = tmp_path_factory.mktemp("live")
    data_dir = root / "data"
    shutil.copytree(sample_data_dir, data_dir)
    server = start_app(data_dir, root, ASSISTANT_MAX_UPLOAD_BYTES=str(256 * 1024))
    yield server
    server.stop()


@pytest.fixture
def http(live_server: LiveProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60.0) as client:
        yield client


def sample_app(
    tmp_path_factory: pytest.TempPathFactory,
    sample_data_dir: Path,
    embedder: Embedder,
    **overrides: object,
) -> FastAPI:
    """An in-process app over a private copy of the sample data; settings come from here only."""
    data_dir = tmp_path_factory.mktemp("app") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    defaults: dict[str, object] = {"api_key": None, "chroma_url": None, "cors_origins": []}
    settings = make_settings(data_dir, **{**defaults, **overrides})
    return create_app(Service(settings, embedder=embedder))


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path, embedder: Embedder
) -> Iterator[TestClient]:
    """A small upload limit so the size check is cheap to hit."""
    app = sample_app(tmp_path_factory, sample_data_dir, embedder, max_upload_bytes=64 * 1024)
    with TestClient(app) as test_client:
        yield test_client
