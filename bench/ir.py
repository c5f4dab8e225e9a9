"""Retrieval quality on a BEIR dataset (e.g. SciFact) through the product's real ingest path.

    python bench/ir.py DATA_DIR [--split test] [--json]

Every corpus entry becomes a Markdown file (title as front matter, abstract as body, file
stem = the corpus ``_id``) that the real ``Service.ingest`` chunks, embeds and stores in Chroma;
the real ``Retriever`` then answers every query of the split in three modes: dense only, BM25
only and the shipped default. A document scores as its best chunk. Prints nDCG@10 and
Recall@100 per mode.

Reruns are fast: embeddings are cached in SQLite under ``bench/.cache`` keyed by model name
and text, and the Chroma store there is reused while the ingest code and settings that shaped
it are unchanged (otherwise a fresh one is built, from cached embeddings).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from assistant.service import Service
from assistant.settings import Settings
from ingest.chunking import chunk_document
from ingest.embedding import Embedder
from ingest.loaders import load_document
from ingest.sync import embed_text

CACHE = Path(__file__).resolve().parent / ".cache"
MODES = {"dense": "dense", "bm25": "bm25", "default": None}
NDCG_AT = 10
RECALL_AT = 100
CHUNKS_PER_QUERY = 300
KEEP_STORES = 3  # enough chunks that the top RECALL_AT documents are all present


class CachedEmbedder(Embedder):
    """The real embedder, with vectors remembered in SQLite keyed by model name and text."""

    def __init__(self, db: Path, model: str | None = None, batch_size: int = 64):
        super().__init__(model, batch_size)
        db.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(db), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vector BLOB, "
            "PRIMARY KEY (model, key))"
        )
        self.computed = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return super().embed(texts)
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for s in range(0, len(unique), 500):
            part = unique[s : s + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model = ? AND key IN "
                f"({','.join('?' * len(part))})",
                [self.name, *part],
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            todo = list({keys[i]: texts[i] for i in missing}.items())
            vectors = super().embed([text for _, text in todo])
            self.computed += len(todo)
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [
                        (self.name, key, v.tobytes())
                        for (key, _), v in zip(todo, vectors, strict=True)
                    ],
                )
            for (key, _), vector in zip(todo, vectors, strict=True):
                found[key] = vector
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Chunk vectors from the cache; no sentence vectors (this bench scores retrieval
        only, and the answerer encodes sentences itself where none are stored)."""
        vectors = self.embed(texts)
        empty = [
            (np.zeros(len(s), np.int32), np.zeros((len(s), vectors.shape[1]), np.float32))
            for s in spans
        ]
        return vectors, empty


# -- data ---------------------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        header = f.readline().split("\t")
        if header[0] != "query-id":
            f.seek(0)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def write_documents(corpus: list[dict[str, Any]], folder: Path) -> None:
    """One Markdown file per corpus entry; unchanged files are left alone (mtime = no re-ingest)."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in corpus:
        front = yaml.safe_dump({"title": entry.get("title", "")}, allow_unicode=True, width=1 << 20)
        content = f"---\n{front}---\n\n{entry.get('text', '')}\n"
        path = folder / f"{entry['_id']}.md"
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")


def store_key(settings: Settings, model: str, folder: Path, sample: int = 300) -> str:
    """A fingerprint of what the ingest would store: the model, and the chunk ids and embedded
    texts of a fixed sample of documents. Code changes that alter neither keep the store."""
    digest = hashlib.sha256(f"{model}|{settings.chunk_size}|{settings.chunk_overlap}".encode())
    files = sorted(folder.glob("*.md"))
    for file in files[:: max(1, len(files) // sample)]:
        document = load_document(file, file.name)
        for chunk in chunk_document(document, settings.chunk_size, settings.chunk_overlap):
            digest.update(chunk.chunk_id.encode())
            digest.update(embed_text(document.title, chunk.location, chunk.text).encode())
    return digest.hexdigest()[:12]


# -- metrics ------------------------------------------------------------------------------------
def ndcg(ranked: Sequence[str], relevant: dict[str, int], at: int = NDCG_AT) -> float:
    """BEIR nDCG@k: graded gains from qrels, log2 discount, ideal ranking of the qrels."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:at]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:at]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall(ranked: Sequence[str], relevant: dict[str, int], at: int = RECALL_AT) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:at])) / len(wanted) if wanted else 0.0


def ranked_documents(service: Service, query: str, mode: str | None) -> list[str]:
    """The first RECALL_AT document ids, in order of their best chunk."""
    k = 2 * RECALL_AT
    while True:
        if mode is None:
            hits = service.retriever.search(query, k)
        else:
            hits = service.retriever.search(query, k, mode=mode)
        docs = list(dict.fromkeys(h.chunk.doc_id.removesuffix(".md") for h in hits))
        if len(docs) >= RECALL_AT or len(hits) < k:
            return docs[:RECALL_AT]
        k *= 2


def evaluate(
    service: Service, queries: dict[str, str], qrels: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, mode in MODES.items():
        started = time.perf_counter()
        n_scores, r_scores = [], []
        for qid, relevant in qrels.items():
            ranked = ranked_documents(service, queries[qid], mode)
            n_scores.append(ndcg(ranked, relevant))
            r_scores.append(recall(ranked, relevant))
        seconds = time.perf_counter() - started
        results[name] = {
            f"ndcg@{NDCG_AT}": round(float(np.mean(n_scores)), 4),
            f"recall@{RECALL_AT}": round(float(np.mean(r_scores)), 4),
            "queries": len(qrels),
            "ms_per_query": round(1000 * seconds / max(len(qrels), 1), 1),
        }
    return results


# -- main ---------------------------------------------------------------------------------------
def build_service(data_dir: Path, log: Any) -> Service:
    base = Settings(_env_file=None, chroma_url=None)  # type: ignore[call-arg]
    embedder = CachedEmbedder(CACHE / "embeddings.sqlite", base.embedding_model)
    name = data_dir.resolve().name
    docs_dir = CACHE / f"{name}-docs"
    write_documents(read_jsonl(data_dir / "corpus.jsonl"), docs_dir)
    store_dir = CACHE / f"{name}-store-{store_key(base, embedder.name, docs_dir)}"
    if store_dir.exists():
        store_dir.touch()  # most recently used
    # keep a few recent stores (switching between tuned variants), drop older ones
    stores = sorted(CACHE.glob(f"{name}-store-*"), key=lambda p: -p.stat().st_mtime)
    for old in [s for s in stores if s != store_dir][KEEP_STORES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    settings = base.model_copy(update={"data_dir": store_dir})
    service = Service(settings, embedder=embedder)
    started = time.perf_counter()
    report = service.ingest([docs_dir])
    if report.failed:
        raise SystemExit(f"ingest failed for {len(report.failed)} files, e.g. {report.failed[0]}")
    log(
        f"ingest: {report.added + report.updated} indexed, {report.unchanged} unchanged, "
        f"{embedder.computed} texts embedded ({time.perf_counter() - started:.1f}s); "
        f"{service.store.count()} chunks in {store_dir}"
    )
    return service


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="BEIR dataset folder (corpus.jsonl, ...)")
    parser.add_argument("--split", default="test", help="qrels split to score (default: test)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    qrels_path = args.data_dir / "qrels" / f"{args.split}.tsv"
    if not qrels_path.is_file():
        parser.error(f"no qrels file {qrels_path}")
    started = time.perf_counter()
    service = build_service(args.data_dir, log)
    queries = {q["_id"]: q["text"] for q in read_jsonl(args.data_dir / "queries.jsonl")}
    qrels = {q: rel for q, rel in read_qrels(qrels_path).items() if q in queries}
    results = evaluate(service, queries, qrels)
    log(f"total {time.perf_counter() - started:.1f}s")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{args.data_dir.name} / {args.split}: {len(qrels)} queries")
        print(f"{'mode':<10}{'nDCG@10':>10}{'Recall@100':>12}{'ms/query':>10}")
        for name, row in results.items():
            print(
                f"{name:<10}{row['ndcg@10']:>10.4f}{row['recall@100']:>12.4f}"
                f"{row['ms_per_query']:>10.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
