"""Fixtures for the assistant's unit tests: a service over a three-document corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.service import Service
from ingest.embedding import Embedder
from tests.conftest import make_settings
from tests.ingest.builders import SMALL_CORPUS, write_corpus


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("small") / "corpus")


@pytest.fixture(scope="session")
def small_service(
    small_corpus: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Service:
    """Read-only service (default settings) over the small ingest corpus: a few seconds to
    build, where the sample corpus takes half a minute."""
    service = Service(make_settings(tmp_path_factory.mktemp("small") / "data"), embedder=embedder)
    report = service.ingest([small_corpus])
    assert report.added == len(SMALL_CORPUS), report.failed
    return service
