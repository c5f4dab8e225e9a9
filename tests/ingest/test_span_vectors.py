"""Sentence vectors pooled from a chunk's own encoding: stored at ingest, used by the answerer."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import numpy as np

from assistant.service import Service
from ingest.embedding import Embedder
from ingest.sentences import sentence_spans
from ingest.span_vectors import SpanVectors, pack, unpack
from tests.conftest import make_settings

TEXT = (
    "The harbour crane lifted forty containers before noon. "
    "Parliament passed the new budget after a long debate. "
    "The orchestra rehearsed the symphony for three hours."
)


def test_pack_round_trips_and_bad_metadata_reads_as_none() -> None:
    means = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
    item = SpanVectors([(0, 5), (6, 9), (10, 20)], np.array([2, 0, 7], np.int32), means)
    back = unpack({"doc_id": "a"} | pack(item))
    assert back is not None
    assert back.spans == item.spans
    assert back.tokens.tolist() == [2, 0, 7]
    # int8 rows with a scale each: within half a step (max |row| / 254) of the original
    steps = np.abs(means).max(axis=1, keepdims=True) / 254
    assert np.all(np.abs(back.means.astype(np.float32) - means) <= steps + 1e-3)
    assert unpack({"doc_id": "a"}) is None  # stored before sentence vectors existed
    assert unpack(pack(item) | {"sent_tokens": "2,0"}) is None  # counts and spans disagree
    assert unpack(pack(item) | {"sent_q8": "not base64!"}) is None
    # float16 rows, as stored before the int8 ones, are still read
    old = {k: v for k, v in pack(item).items() if k != "sent_q8"}
    old["sent_vectors"] = base64.b64encode(means.astype(np.float16).tobytes()).decode("ascii")
    legacy = unpack(old)
    assert legacy is not None and np.allclose(legacy.means, means, atol=1e-3)


def test_int8_sentence_vectors_keep_the_cosine_with_a_question(embedder: Embedder) -> None:
    spans = sentence_spans(TEXT)
    _, [(counts, means)] = embedder.embed_with_spans([TEXT], [spans])
    exact = SpanVectors(spans, counts, means)
    stored = unpack(pack(exact))
    assert stored is not None
    question = embedder.embed_query("How many containers did the crane lift?")
    for s, e in spans:
        a, b = exact.vector(s, e), stored.vector(s, e)
        assert a is not None and b is not None
        assert abs(float(a @ question) - float(b @ question)) < 0.005


def test_vector_of_a_range_pools_the_spans_it_overlaps_by_token_count() -> None:
    means = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]], np.float32)
    item = SpanVectors([(0, 10), (11, 20), (21, 30)], np.array([3, 1, 0], np.int32), means)
    first = item.vector(0, 10)
    assert first is not None and np.allclose(first, [1.0, 0.0])
    both = item.vector(2, 15)  # overlaps the first two: weights 3 and 1
    assert both is not None and np.allclose(both, np.array([3.0, 1.0]) / np.sqrt(10))
    assert item.vector(21, 30) is None  # a span with no tokens (beyond the model's limit)


def test_one_pass_gives_the_chunk_vector_and_a_vector_per_sentence(embedder: Embedder) -> None:
    spans = sentence_spans(TEXT)
    assert len(spans) == 3
    vectors, [(counts, means)] = embedder.embed_with_spans([TEXT], [spans])
    assert np.allclose(vectors[0], embedder.embed([TEXT])[0], atol=1e-5)
    assert all(counts > 0)
    alone = embedder.embed([TEXT[s:e] for s, e in spans])
    pooled = SpanVectors(spans, counts, means)
    for i, (s, e) in enumerate(spans):
        vector = pooled.vector(s, e)
        assert vector is not None
        # each sentence's pooled vector is nearest to the same sentence encoded on its own
        assert int(np.argmax(alone @ vector)) == i


def port_day(tmp_path: Path, embedder: Embedder) -> tuple[Path, Service]:
    """A service over one ingested document made of TEXT."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "day.md").write_text(f"# A day in the port\n\n{TEXT}\n")
    service = Service(make_settings(tmp_path / "data"), embedder=embedder)
    service.ingest([docs])
    return docs, service


def test_ingest_stores_sentence_vectors_and_answers_without_encoding_sentences(
    tmp_path: Path, embedder: Embedder
) -> None:
    _, service = port_day(tmp_path, embedder)
    [chunk] = service.store.iter_chunks()
    stored = service.store.span_vectors([chunk])[chunk.chunk_id]
    assert stored is not None and stored.spans == sentence_spans(chunk.text)

    before = embedder.texts_embedded
    answer = service.ask("How many containers did the harbour crane lift?")
    assert not answer.refused
    assert "forty containers" in answer.citations[0].quote
    assert embedder.texts_embedded == before + 1  # the question only

    # a chunk stored without sentence vectors (an older store) is scored by encoding them
    service.store._span_cache[(chunk.chunk_id, chunk.start, chunk.end)] = None
    embedder._query_cache.clear()
    before = embedder.texts_embedded
    again = service.ask("How many containers did the harbour crane lift?")
    assert again.citations[0].quote == answer.citations[0].quote
    assert embedder.texts_embedded > before + 1


def test_a_store_ingested_without_sentence_vectors_is_re_embedded_once(
    tmp_path: Path, embedder: Embedder
) -> None:
    docs, service = port_day(tmp_path, embedder)
    [record] = service.store.doc_records().values()
    old_key = "/".join(record.chunking.split("/")[:2])  # size/overlap, as before sv1
    service.store.put_doc_record(dataclasses.replace(record, chunking=old_key))
    upgraded = service.ingest([docs])
    assert (upgraded.updated, upgraded.embedded) == (1, 1)
    assert service.ingest([docs]).embedded == 0
