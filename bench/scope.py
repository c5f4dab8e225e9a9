"""Scoped questions on the sample corpus: answered from the right document, refused in the wrong.

    python bench/scope.py [--data-dir DIR] [--json]

Every answerable question of ``tests/data/dev-questions.jsonl`` and
``bench/questions/calibration-questions.jsonl`` is asked twice through the real retrieval and
reader (``ExtractiveAnswerer.rank`` + ``Reader.read``, as ``Service.ask`` does):

- scoped to its gold document: it should be answered with the gold quote;
- scoped to a far document, the one least similar to the question (by the best dense
  similarity of its chunks), which does not hold the answer: it should be refused;
- scoped to the nearest other document (most similar after the gold one): it may hold the
  answer too, so an answer there is counted, and how many of those answers hold at least half
  of the question's answer keywords (likely supported; the rest likely not).

Within a scope, retrieval's and the decision's scores are relative to the scope's best passage,
so a document that does not cover the question can still look like evidence. The reader's
calibrated probability of the best sentence read is the absolute check; this prints, for a
sweep of that floor (``ASSISTANT_SCOPE_FLOOR``), how many gold-scope questions stay answered
with the gold quote and how many wrong-scope questions are still answered.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant.retrieval import Scope  # noqa: E402
from assistant.service import Service  # noqa: E402
from assistant.settings import Settings  # noqa: E402

QUESTION_FILES = [
    REPO / "tests" / "data" / "dev-questions.jsonl",
    REPO / "bench" / "questions" / "calibration-questions.jsonl",
]
FLOORS = [0.0, 0.08, 0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.3]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def read(service: Service, question: str, doc_id: str) -> dict[str, Any]:
    """The reader's decision within one document, before the scope floor."""
    scope = Scope(frozenset([doc_id]), (doc_id,))
    answerer, reader = service.answerer, service.reader
    hits, ranked = answerer.rank(question, scope=scope)
    reading = reader.read(question, hits, cands=ranked)
    logits = [c.logit for c in reading.candidates if c.logit > -math.inf]
    best = reader.calibration(max(logits)) if logits else 0.0
    cited = [c.text for c in reading.cited] if reading.answered else []
    return {"answered": reading.answered, "best_p": best, "cited": cited}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="scope-bench-"))
    service = Service(Settings(_env_file=None, data_dir=data_dir))  # type: ignore[call-arg]
    if not service.sources():
        service.ingest_sample()
    docs = [r.doc_id for r in service.sources()]
    chunk_doc = {c.chunk_id: c.doc_id for c in service.store.iter_chunks()}
    rows = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            if not q["answerable"]:
                continue
            vector = service.embedder.embed_query(q["question"])
            best: dict[str, float] = {}
            for cid, score in service.store.nearest_ids(vector, 1000):
                doc = chunk_doc.get(cid, "")
                best[doc] = max(best.get(doc, -1.0), score)
            others = sorted(
                (d for d in docs if d != q["gold_doc"]), key=lambda d: best.get(d, -1.0)
            )
            gold = read(service, q["question"], q["gold_doc"])
            gold["right"] = any(_norm(q["gold_quote"]) in _norm(t) for t in gold["cited"])
            near = read(service, q["question"], others[-1])
            keywords = [_norm(k) for k in q.get("answer_keywords", [])]
            near["has_keywords"] = any(
                sum(k in _norm(t) for k in keywords) * 2 >= len(keywords) for t in near["cited"]
            )
            far = read(service, q["question"], others[0])
            rows.append({"id": q["id"], "gold": gold, "wrong": far, "near": near})
    sweep = []
    for floor in FLOORS:
        right = sum(r["gold"]["right"] and r["gold"]["best_p"] >= floor for r in rows)
        kept = sum(r["gold"]["answered"] and r["gold"]["best_p"] >= floor for r in rows)
        wrong = sum(r["wrong"]["answered"] and r["wrong"]["best_p"] >= floor for r in rows)
        near = [r["near"] for r in rows if r["near"]["answered"] and r["near"]["best_p"] >= floor]
        sweep.append(
            {
                "floor": floor,
                "gold_scope_right": right,
                "gold_scope_answered": kept,
                "wrong_scope_answered": wrong,
                "near_scope_answered": len(near),
                "near_scope_with_keywords": sum(n["has_keywords"] for n in near),
            }
        )
    result = {"questions": len(rows), "sweep": sweep}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{len(rows)} answerable questions, each scoped to its gold and to a wrong document")
        print("floor  gold: right answered   far: answered   near: answered (with keywords)")
        for s in sweep:
            print(
                f"{s['floor']:5.2f}  {s['gold_scope_right']:11d} {s['gold_scope_answered']:8d}"
                f"   {s['wrong_scope_answered']:13d}   {s['near_scope_answered']:14d}"
                f" ({s['near_scope_with_keywords']})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
