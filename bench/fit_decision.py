"""Learn the answer decision from the evidence bench/decision_data.py recorded.

Two logistic models, fitted on the validation articles and judged by leaving one article out
at a time (each article's figures come from models that never saw it):

1. which sentence answers: for each candidate read, the probability that it holds the answer,
   from the reader's logit, the support score's parts, the retrieval ranks and how far it
   stands behind the question's best candidate;
2. whether to answer at all: from the best candidates' probabilities and the question's
   evidence, the probability that the answer quoted is right.

The answer is the best sentence, with the second best when its probability is close; a
refusal when (2) is below the threshold, chosen for a stated refusal precision.

    python bench/fit_decision.py rows.jsonl [--shortlist 4] [--precision 0.7] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.reader import (  # noqa: E402
    CANDIDATE_FEATURES,
    QUESTION_FEATURES,
    candidate_matrix,
    question_vector,
)

# least support of the best candidate, below which a question is refused whatever the models
# say (None: no floor); swept with the threshold
FLOORS = (-math.inf, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4)


def logistic_fit(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50, sw: np.ndarray | None = None
) -> np.ndarray:
    """Weights (last one the bias) of an L2-regularised logistic regression, by Newton;
    ``sw`` weighs the rows."""
    sw = np.ones(len(x)) if sw is None else sw
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = l2 * np.eye(xb.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        g = xb.T @ (sw * (p - y)) + reg @ w
        h = (xb * (sw * (p * (1 - p)) + 1e-9)[:, None]).T @ xb + reg
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


class Model:
    """Standardise, then logistic regression."""

    def __init__(self, names: Sequence[str], l2: float = 1.0):
        self.names = list(names)
        self.l2 = l2
        self.mean = np.zeros(len(names))
        self.std = np.ones(len(names))
        self.w = np.zeros(len(names) + 1)

    def fit(self, x: np.ndarray, y: np.ndarray, sw: np.ndarray | None = None) -> Model:
        self.mean = x.mean(0)
        self.std = x.std(0) + 1e-6
        self.w = logistic_fit((x - self.mean) / self.std, y, self.l2, sw=sw)
        return self

    def prob(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.std) @ self.w[:-1] + self.w[-1]
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))

    def as_dict(self) -> dict[str, Any]:
        # folded into raw-feature weights: p = sigmoid(x @ weights + bias)
        weights = self.w[:-1] / self.std
        bias = self.w[-1] - float(np.sum(self.w[:-1] * self.mean / self.std))
        return {
            "features": self.names,
            "weights": [round(float(v), 6) for v in weights],
            "bias": round(float(bias), 6),
        }


def read_rows(
    path: Path, shortlist: int, by_support: int, window: int | None = None
) -> list[dict[str, Any]]:
    """Rows with only the candidates a reader of this shortlist would have read."""
    rows = []
    for line in path.open(encoding="utf-8"):
        row = json.loads(line)
        cands = [
            c
            for c in row["cands"]
            if not c["fragment"]
            and (c["pre_rank"] < shortlist or c["sup_rank"] < by_support)
            and (window is None or c["sup_rank"] < window)
        ]
        row["cands"] = cands
        rows.append(row)
    return rows


def fit_sentence(rows: list[dict[str, Any]], l2: float) -> Model:
    xs, ys, sw = [], [], []
    for row in rows:
        m = candidate_matrix(row["cands"])
        if len(m):
            xs.append(m)
            ys.extend(float(c["gold"]) for c in row["cands"])
            sw.extend([row.get("weight", 1.0)] * len(m))
    return Model(CANDIDATE_FEATURES, l2).fit(np.vstack(xs), np.array(ys), np.array(sw))


def fit_question(rows: list[dict[str, Any]], sentence: Model, l2: float) -> Model:
    xs, ys = [], []
    for row in rows:
        m = candidate_matrix(row["cands"])
        probs = sentence.prob(m) if len(m) else np.zeros(0)
        xs.append(question_vector(row["cands"], probs, row["top_hit_score"]))
        # right to answer: the question is answerable and the best sentence holds the answer
        best_gold = bool(len(probs)) and row["cands"][int(np.argmax(probs))]["gold"]
        ys.append(float(best_gold))
    sw = np.array([row.get("weight", 1.0) for row in rows])
    return Model(QUESTION_FEATURES, l2).fit(np.array(xs), np.array(ys), sw)


def decide(
    rows: list[dict[str, Any]], sentence: Model, question: Model, ratio: float
) -> list[dict[str, Any]]:
    """For each row: the answer probability and the cited candidates (best first)."""
    out = []
    for row in rows:
        m = candidate_matrix(row["cands"])
        if not len(m):
            out.append({"row": row, "p": 0.0, "cited": [], "top_support": -math.inf})
            continue
        probs = sentence.prob(m)
        order = np.argsort(-probs)
        p = float(
            question.prob(np.array([question_vector(row["cands"], probs, row["top_hit_score"])]))[0]
        )
        cited = [row["cands"][order[0]]]
        if len(order) > 1 and probs[order[1]] >= ratio * probs[order[0]]:
            second = row["cands"][order[1]]
            if not (
                second["doc"] == cited[0]["doc"]
                and second["start"] < cited[0]["end"]
                and cited[0]["start"] < second["end"]
            ):
                cited.append(second)
        top_support = max(c["support"] for c in row["cands"])
        out.append({"row": row, "p": p, "cited": cited, "top_support": top_support})
    return out


def figures(
    decided: list[dict[str, Any]], threshold: float, floor: float = -math.inf
) -> dict[str, float]:
    """Answer and refusal figures when a question is refused below ``threshold``, or when no
    candidate's support reaches ``floor``."""
    answerable = [d for d in decided if d["row"]["answerable"]]
    unanswerable = [d for d in decided if not d["row"]["answerable"]]
    refused = [d for d in decided if d["p"] < threshold or d["top_support"] < floor]
    right = sum(1 for d in refused if not d["row"]["answerable"])
    answered = [d for d in decided if d["p"] >= threshold and d["top_support"] >= floor]
    hits = sum(1 for d in answered if d["row"]["answerable"] and any(c["gold"] for c in d["cited"]))
    prec = right / len(refused) if refused else 1.0
    rec = right / len(unanswerable) if unanswerable else 0.0
    return {
        "threshold": round(threshold, 3),
        "support_floor": round(floor, 3) if floor > -math.inf else None,
        "answer_recall": round(hits / len(answerable), 4) if answerable else 0.0,
        "refusal_precision": round(prec, 4),
        "refusal_recall": round(rec, 4),
        "refusal_f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
        "false_refusal_rate": round((len(refused) - right) / len(answerable), 4)
        if answerable
        else 0.0,
        "sentences_per_answer": round(sum(len(d["cited"]) for d in answered) / len(answered), 3)
        if answered
        else 0.0,
    }


def group_of(row: dict[str, Any]) -> str:
    """squad (the validation articles), off-topic (their questions over the sample corpus) or
    sample-corpus (an `assistant eval` file)."""
    article = str(row["article"])
    if article.startswith("off-topic:"):
        return "off-topic"
    return "sample-corpus" if article == "sample-corpus" else "squad"


def fold(row: dict[str, Any]) -> str:
    return str(row["article"]).removeprefix("off-topic:")


def cross_validate(rows: list[dict[str, Any]], ratio: float, l2: float) -> list[dict[str, Any]]:
    """Decisions for every row by models fitted without its article (an article's questions
    asked off topic, over another corpus, go with it)."""
    articles = sorted({fold(r) for r in rows})
    decided: list[dict[str, Any]] = []
    for art in articles:
        train = [r for r in rows if fold(r) != art]
        test = [r for r in rows if fold(r) == art]
        sentence = fit_sentence(train, l2)
        question = fit_question(train, sentence, l2)
        decided.extend(decide(test, sentence, question, ratio))
    return decided


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("rows", type=Path, nargs="+", help="bench/decision_data.py outputs")
    parser.add_argument("--shortlist", type=int, default=4)
    parser.add_argument("--by-support", type=int, default=2)
    parser.add_argument(
        "--window",
        type=int,
        help="read only candidates among the N best supported (default: any)",
    )
    parser.add_argument("--ratio", type=float, default=0.6)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--precision", type=float, default=0.7)
    parser.add_argument(
        "--upweight",
        action="append",
        default=[],
        metavar="GROUP=W",
        help="count each question of GROUP (squad, off-topic, sample-corpus) W times in fitting",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="ship this threshold instead of the one chosen by --precision",
    )
    parser.add_argument(
        "--floor",
        type=float,
        help="with --threshold: the support floor to ship (default: none)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    weights = {k: float(v) for k, v in (item.split("=", 1) for item in args.upweight)}
    rows = [
        r
        for path in args.rows
        for r in read_rows(path, args.shortlist, args.by_support, args.window)
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(group_of(row), []).append(row)
        row["weight"] = weights.get(group_of(row), 1.0)
    for name, group in groups.items():
        answerable = [r for r in group if r["answerable"]]
        read = sum(any(c["gold"] for c in r["cands"]) for r in answerable) / max(len(answerable), 1)
        anywhere = sum(r["gold_anywhere"] for r in answerable) / max(len(answerable), 1)
        print(
            f"{name}: {len(group)} questions; gold among candidates read {read:.3f}, "
            f"anywhere {anywhere:.3f}",
            file=sys.stderr,
        )
    decided = cross_validate(rows, args.ratio, args.l2)
    table = []
    for floor in FLOORS:
        for t in np.round(np.arange(0.025, 0.31, 0.0125), 4):
            entry: dict[str, Any] = {}
            for name, group in groups.items():
                ids = {id(r) for r in group}
                picked = [d for d in decided if id(d["row"]) in ids]
                entry[name] = figures(picked, float(t), floor)
            table.append(entry)
            print(json.dumps(entry))
    # the refusal precision must hold on every group with both kinds of question (off-topic
    # questions are all unanswerable: any refusal there is right); then the most answers
    # cited plus unanswerable questions refused, over those groups
    mixed = [g for g in groups if g != "off-topic"]
    ok = [t for t in table if all(t[g]["refusal_precision"] >= args.precision for g in mixed)]
    chosen = (
        max(ok, key=lambda t: sum(t[g]["refusal_recall"] + t[g]["answer_recall"] for g in mixed))
        if ok
        else None
    )
    if args.threshold is not None:
        chosen = min(
            (t for t in table if t["squad"]["support_floor"] == args.floor),
            key=lambda t: abs(t["squad"]["threshold"] - args.threshold),
        )
    print("chosen (cross-validated):", json.dumps(chosen))
    if args.out and chosen:
        sentence = fit_sentence(rows, args.l2)
        question = fit_question(rows, sentence, args.l2)
        result = {
            "sentence": sentence.as_dict(),
            "question": question.as_dict(),
            "fitted_on": sorted({r["article"] for r in rows}),
            "questions": len(rows),
            "upweight": weights,
            "target_refusal_precision": args.precision,
            "threshold": chosen["squad"]["threshold"],
            "support_floor": chosen["squad"]["support_floor"],
            "second_ratio": args.ratio,
            "shortlist": args.shortlist,
            "by_support": args.by_support,
            "window": args.window,
            "cross_validated": chosen,
            "sweep": table,
        }
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
