"""Shared fixtures: the real bundled model (loaded once), real Chroma stores in temp dirs.

A test that uses the ingested sample corpus is marked ``slow`` here (its first user pays half
a minute of ingest), so ``pytest -m "not slow"`` never waits for it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.service import Service, sample_corpus_dir
from assistant.settings import Settings
from ingest.embedding import Embedder

REPO = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = REPO / "tests" / "data" / "dev-questions.jsonl"


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "sample_data_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder()
    model.embed(["warm up"])
    return model


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: no .env file, no ambient ASSISTANT_* variables."""
    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("ASSISTANT_CHROMA_URL", "ASSISTANT_API_KEY", "ASSISTANT_LLM_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    return make_settings(tmp_path / "data")


@pytest.fixture
def service(settings: Settings, embedder: Embedder) -> Service:
    return Service(settings, embedder=embedder)


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data dir holding the bundled sample corpus, ingested once per test session.

    Tests that write must copy it first (see ``sample_copy``)."""
    data_dir = tmp_path_factory.mktemp("sample") / "data"
    Service(make_settings(data_dir), embedder=embedder).ingest([sample_corpus_dir()])
    return data_dir


@pytest.fixture(scope="session")
def sample_service(sample_data_dir: Path, embedder: Embedder) -> Service:
    """Read-only service over the ingested sample corpus."""
    return Service(make_settings(sample_data_dir), embedder=embedder)


@pytest.fixture
def sample_copy(sample_data_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A private, writable copy of the ingested sample data dir."""
    target = tmp_path / "sample-data"
    shutil.copytree(sample_data_dir, target)
    yield target
