"""The Chroma store: model bookkeeping and its clear error on a model mismatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.embedding import Embedder
from ingest.store import ChromaStore, ModelMismatchError, StoreError
from tests.ingest.builders import chunk_state, run_sync


def test_sync_records_the_model_and_reopening_with_it_works(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    reopened = ChromaStore(path=synced.path)
    reopened.check_model(embedder.name)  # same model: fine
    with pytest.raises(ModelMismatchError):
        reopened.check_model("some-other-model")
    assert run_sync([corpus], reopened, embedder).unchanged == 3


def test_store_built_with_another_model_is_a_clear_error(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    before = chunk_state(synced)
    synced.record_model("other-model", 384)
    (corpus / "new.md").write_text("# New\n\nA new file that must not be embedded.")
    with pytest.raises(ModelMismatchError) as info:
        run_sync([corpus], synced, embedder)
    message = str(info.value)
    assert "'other-model'" in message and repr(embedder.name) in message
    assert "ASSISTANT_EMBEDDING_MODEL=other-model" in message  # how to keep using the store
    assert "re-index" in message  # ... or how to rebuild it with the new model
    assert chunk_state(synced) == before, "nothing was written with the wrong model"


def test_store_needs_exactly_one_location(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="exactly one"):
        ChromaStore()
    with pytest.raises(StoreError, match="exactly one"):
        ChromaStore(path=tmp_path, url="http://127.0.0.1:1")


def test_nearest_ids_returns_the_nearest_chunk_first(
    synced: ChromaStore, embedder: Embedder
) -> None:
    [(chunk, vector)] = [
        (c, v) for c, v, _ in synced.iter_chunks_with_vectors() if "Treasury designates" in c.text
    ]
    assert vector.shape == (384,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-3)
    hits = synced.nearest_ids(vector, 3)
    assert hits[0][0] == chunk.chunk_id
    assert hits[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)


def test_generation_changes_when_chunks_change(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    first = synced.generation()
    run_sync([corpus], synced, Embedder())  # no change
    assert synced.generation() == first
    (corpus / "beta.txt").write_text("Rewritten beta notes.", encoding="utf-8")
    run_sync([corpus], synced, embedder)
    assert synced.generation() != first


class _DiesAfterDeletingChunks(ChromaStore):
    """The real store, but the process "dies" right after a document's chunks are deleted."""

    def delete_chunks(self, doc_id: str, keep_hash: str | None = None, **kwargs: Any) -> int:
        super().delete_chunks(doc_id, keep_hash, **kwargs)
        raise KeyboardInterrupt


def test_interrupted_removal_never_leaves_a_record_without_chunks(
    synced: ChromaStore, corpus: Path, embedder: Embedder
) -> None:
    complete = chunk_state(synced)
    dying = _DiesAfterDeletingChunks(path=synced.path)
    with pytest.raises(KeyboardInterrupt):
        dying.delete_document("beta.txt")
    assert synced.doc_record("beta.txt") is None, "the record must go before the chunks"
    report = run_sync([corpus], synced, embedder)  # the file is still there: it comes back
    assert (report.added, report.unchanged) == (1, 2)
    assert chunk_state(synced) == complete
