"""Fixtures for the ingest tests: a real store in a temp dir and a small ingested corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.embedding import Embedder
from ingest.store import ChromaStore
from tests.ingest.builders import SMALL_CORPUS, run_sync, write_corpus


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    return ChromaStore(path=tmp_path / "chroma")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def synced(corpus: Path, store: ChromaStore, embedder: Embedder) -> ChromaStore:
    """The small corpus, ingested into a fresh store."""
    report = run_sync([corpus], store, embedder)
    assert report.added == len(SMALL_CORPUS), report.failed
    return store
