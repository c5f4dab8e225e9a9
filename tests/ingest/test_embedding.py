"""The embedder: the bundled model by any of its names, unit vectors, and lazy loading."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.embedding import BUNDLED_MODEL_NAME, Embedder


def test_vectors_are_unit_length_and_similar_texts_are_closer(embedder: Embedder) -> None:
    vectors = embedder.embed(
        [
            "Sanctions against perpetrators of sexual violence in conflict.",
            "Penalties for people who commit conflict-related sexual abuse.",
            "The recipe needs two eggs and a cup of flour.",
        ]
    )
    assert vectors.shape == (3, embedder.dimension) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_model_loads_only_when_something_is_embedded() -> None:
    fresh = Embedder()
    assert fresh.name == BUNDLED_MODEL_NAME
    assert fresh.loaded is False


@pytest.mark.parametrize(
    "alias", [None, "", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"]
)
def test_every_name_of_the_bundled_model_means_the_bundled_model(alias: str | None) -> None:
    # the model-mismatch error tells users to set ASSISTANT_EMBEDDING_MODEL=all-MiniLM-L6-v2
    assert Embedder(alias).name == BUNDLED_MODEL_NAME


def test_bundled_model_by_name_loads_offline(embedder: Embedder) -> None:
    """By name, it must load from the bundled package, not from the Hugging Face hub."""
    by_name = Embedder("all-MiniLM-L6-v2")
    text = "Women, peace and security."
    np.testing.assert_allclose(by_name.embed([text]), embedder.embed([text]), atol=1e-5)


def test_query_vectors_are_cached(embedder: Embedder) -> None:
    before = embedder.texts_embedded
    first = embedder.embed_query("What does resolution 1325 say?")
    again = embedder.embed_query("What does resolution 1325 say?")
    assert again is first
    assert embedder.texts_embedded == before + 1


def test_token_lengths_count_what_the_model_sees(embedder: Embedder) -> None:
    """Batches are sorted by these counts, so they must be the model's own token counts:
    special tokens included, long texts truncated to the model's limit."""
    dense = "3-(4-hydroxyphenyl)-N,N'-bis[2-(dimethylamino)ethyl]propanamide " * 2
    plain = "The council met on Monday and agreed the plan."
    long = "word " * 2000
    counts = embedder.token_lengths([dense, plain, long])
    features = embedder.model.tokenize([dense, plain])
    real = features["attention_mask"].sum(dim=1).tolist()
    assert counts[:2] == real
    assert counts[2] == embedder.model.max_seq_length
    assert counts[0] > counts[1] and len(dense) < 3 * len(plain)  # characters mislead


def test_the_query_cache_survives_threads_past_its_size(embedder: Embedder) -> None:
    # the API's worker threads share one embedder; evictions used to race with lookups
    import threading

    small = Embedder()
    small._model = embedder.model  # the loaded model, a private cache
    small.cache_size = 4
    pool = [f"Question number {i} about the WPS strategy?" for i in range(10)]
    expected = {q: v for q, v in zip(pool, embedder.embed(pool), strict=True)}
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(60):
                text = pool[(offset + i * 3) % len(pool)]
                np.testing.assert_allclose(small.embed_query(text), expected[text], atol=1e-5)
                small.embed_cached([text, pool[(offset + i) % len(pool)]])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(small._query_cache) <= small.cache_size
