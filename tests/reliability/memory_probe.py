"""Run in a subprocess by test_memory.py: ingest one file and report peak RSS growth.

    python -m tests.reliability.memory_probe FILE DATA_DIR MODEL_DIR CHUNK_SIZE

Everything that is paid once (imports, the model, Chroma's first write) happens before the
baseline, so the growth is what the ingest of FILE itself costs.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from ingest.embedding import Embedder
from ingest.store import ChromaStore
from ingest.sync import sync


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main() -> None:
    file, data_dir, model, chunk_size = (
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
    )
    embedder = Embedder(model)
    store = ChromaStore(path=data_dir / "chroma")
    warm = data_dir / "warm-up"
    warm.mkdir(parents=True)
    (warm / "warm.md").write_text("# Warm\n\nA warm-up document. " * 50, encoding="utf-8")
    sync([warm], store, embedder, chunk_size=chunk_size, chunk_overlap=100)
    baseline = peak_bytes()
    started = time.perf_counter()
    report = sync([file], store, embedder, chunk_size=chunk_size, chunk_overlap=100)
    seconds = time.perf_counter() - started
    growth = peak_bytes() - baseline
    records = store.doc_records()
    print(
        json.dumps(
            {
                "baseline": baseline,
                "growth": growth,
                "seconds": seconds,
                "report": report.as_dict(),
                "stored_chunks": store.count(),
                "record_chunks": sum(r.chunks for r in records.values()),
                "documents": sorted(records),
            }
        )
    )


if __name__ == "__main__":
    main()
