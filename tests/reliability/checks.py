"""Assertions shared by the reliability tests."""

from __future__ import annotations

from collections import defaultdict

from ingest.store import ChromaStore, StoredChunk


def assert_consistent(store: ChromaStore) -> None:
    """Document records and chunks agree: every record has exactly its chunks (one hash,
    ordinals 0..n-1) and no chunk lacks a record."""
    records = store.doc_records()
    by_doc: dict[str, list[StoredChunk]] = defaultdict(list)
    for chunk in store.iter_chunks():
        by_doc[chunk.doc_id].append(chunk)
    assert set(by_doc) == set(records), (
        f"chunks without a record: {sorted(set(by_doc) - set(records))}; "
        f"records without chunks: {sorted(set(records) - set(by_doc))}"
    )
    for doc_id, record in records.items():
        chunks = by_doc[doc_id]
        assert {c.doc_hash for c in chunks} == {record.doc_hash}, doc_id
        assert sorted(c.ordinal for c in chunks) == list(range(record.chunks)), doc_id
