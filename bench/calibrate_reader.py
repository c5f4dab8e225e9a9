"""Calibrate the reader and choose the refusal threshold, on articles it was never trained on.

The validation articles (bench/train_reader.py ``VALIDATION``) are ingested through the real
path, every question goes through the real retrieval and reader, and for each the best
sentence's logit is kept with whether that sentence holds a gold answer. A logistic map
(Platt scaling) from logit to "the best sentence answers" is fitted on those, and written with
the threshold sweep to ``assistant/models/reader.calibration.json``. The sweep is of the reader
deciding alone; the shipped answerer uses it as a veto on top of the support score, and its
threshold (``ASSISTANT_READER_THRESHOLD``) was read off ``bench/qa.py`` runs (README, "Answer
decision").

    python bench/calibrate_reader.py ../shared/data/qa/squad2-20-articles.json \
        [--weights assistant/models/reader.safetensors] [--precision 0.75] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa import articles_to_docs, is_hit, questions, read_squad  # noqa: E402
from train_reader import VALIDATION  # noqa: E402

from assistant.reader_model import pair_text  # noqa: E402


def platt(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> tuple[float, float]:
    """Logistic regression of labels on logits by Newton's method (scale, bias)."""
    a, b = 1.0, 0.0
    x = np.clip(logits, -30, 30)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * x + b)))
        g = np.array([np.sum((p - labels) * x), np.sum(p - labels)])
        w = p * (1 - p) + 1e-9
        h = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        h += 1e-6 * np.eye(2)
        da, db = np.linalg.solve(h, g)
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-9:
            break
    return float(a), float(b)


def sweep(rows: list[dict[str, Any]], thresholds: np.ndarray) -> list[dict[str, float]]:
    """Refusal and answer figures if the assistant refused below each threshold."""
    out = []
    unanswerable = sum(1 for r in rows if not r["answerable"])
    answerable = len(rows) - unanswerable
    for t in thresholds:
        refused = [r for r in rows if r["p"] < t]
        right = sum(1 for r in refused if not r["answerable"])
        hits = sum(1 for r in rows if r["p"] >= t and r["answerable"] and r["hit"])
        out.append(
            {
                "threshold": round(float(t), 3),
                "refusal_precision": round(right / len(refused), 4) if refused else 1.0,
                "refusal_recall": round(right / unanswerable, 4) if unanswerable else 0.0,
                "false_refusal_rate": round((len(refused) - right) / answerable, 4),
                "answer_recall": round(hits / answerable, 4),
            }
        )
    return out


def unrelated_best(reader: Any, articles: list[dict], items: list[dict]) -> list[float]:
    """For each question, the reader's best logit over the four sentences of another article
    that share most words with it: what a follow-up that the documents do not cover scores
    (``followup_floor`` is read off its 95th and 99th percentiles)."""
    from ingest.sentences import sentence_spans

    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}

    pools = {}
    for a in articles:
        sents = []
        for para in a["paragraphs"]:
            c = para["context"]
            sents += [c[s:e] for s, e in sentence_spans(c)]
        pools[a["title"]] = [(s, words(s)) for s in sents]
    titles = [a["title"] for a in articles]
    out = []
    for item in items:
        other = titles[(titles.index(item["article"]) + 1) % len(titles)]
        qw = words(item["question"])
        best = sorted(pools[other], key=lambda sw: -len(qw & sw[1]))[:4]
        texts = [pair_text(s, other.replace("_", " ")) for s, _ in best]
        out.append(float(reader.scorer.logits(item["question"], texts).max()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--weights", type=Path, default=Path("assistant/models/reader.safetensors"))
    parser.add_argument("--precision", type=float, default=0.75)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from assistant.reader import Calibration
    from assistant.service import Service
    from assistant.settings import Settings

    data = read_squad(args.file)
    articles = [a for a in data if a["title"] in VALIDATION]
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="calibrate-"))
    folder = data_dir / "docs"
    articles_to_docs(articles, folder)
    settings = Settings(data_dir=data_dir, chroma_url=None, reader_weights=args.weights)
    service = Service(settings)
    service.ingest([folder], prune=True)
    reader = service.reader
    reader.calibration = Calibration()  # raw logits
    rows: list[dict[str, Any]] = []
    in_shortlist = 0
    items = questions(articles)
    for i, item in enumerate(items, 1):
        # as the service asks: the answerer's support ranking decides what the reader reads
        hits, ranked = service.answerer.rank(item["question"])
        reading = reader.read(item["question"], hits, cands=ranked)
        best = reading.candidates[0] if reading.candidates else None
        logit = best.logit if best is not None and not math.isinf(best.logit) else -30.0
        gold = item["gold"]
        read_cands = [c for c in reading.candidates if not math.isinf(c.logit)]
        in_shortlist += bool(item["answerable"] and any(is_hit(gold, [c.text]) for c in read_cands))
        rows.append(
            {
                "answerable": item["answerable"],
                "logit": float(logit),
                "hit": bool(item["answerable"] and best is not None and is_hit(gold, [best.text])),
            }
        )
        if i % 200 == 0:
            print(f"read {i}/{len(items)}", file=sys.stderr, flush=True)
    logits = np.array([r["logit"] for r in rows])
    labels = np.array([1.0 if r["hit"] else 0.0 for r in rows])
    scale, bias = platt(logits, labels)
    calibrated = Calibration(scale, bias)
    for r in rows:
        r["p"] = calibrated(r["logit"])
    table = sweep(rows, np.round(np.arange(0.05, 0.96, 0.05), 2))
    ok = [t for t in table if t["refusal_precision"] >= args.precision]
    chosen = max(ok, key=lambda t: t["refusal_recall"] + t["answer_recall"]) if ok else None
    answerable = sum(1 for r in rows if r["answerable"])
    unrelated = unrelated_best(reader, articles, items)
    unrelated_p = [calibrated(x) for x in unrelated]
    result = {
        "scale": scale,
        "bias": bias,
        "fitted_on": list(VALIDATION),
        "questions": len(rows),
        "target_refusal_precision": args.precision,
        "threshold": chosen["threshold"] if chosen else None,
        "at_threshold": chosen,
        "gold_in_shortlist": round(in_shortlist / max(answerable, 1), 4),
        "best_is_gold": round(float(labels.sum()) / max(answerable, 1), 4),
        "followup_floor_p95": round(float(np.percentile(unrelated_p, 95)), 4),
        "followup_floor_p99": round(float(np.percentile(unrelated_p, 99)), 4),
        "sweep": table,
    }
    out = args.out or args.weights.with_name(args.weights.stem + ".calibration.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "sweep"}, indent=1))
    for t in table:
        print(t)


if __name__ == "__main__":
    main()
