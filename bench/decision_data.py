"""Per-candidate evidence for learning the answer decision (bench/fit_decision.py).

The validation articles (bench/train_reader.py ``VALIDATION``, never trained on) are ingested
through the real path; every question goes through the real retrieval and the answerer's
candidate ranking, the reader reads a wide shortlist, and one JSON line per question records,
for each candidate read, what the decision could look at (reader logit, support score and its
parts, prefilter score, passage rank and score, length) and whether it holds a gold answer.

    python bench/decision_data.py ../shared/data/qa/squad2-20-articles.json --out rows.jsonl \
        [--read 8] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa import articles_to_docs, is_hit, questions, read_squad  # noqa: E402
from train_reader import VALIDATION  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--read", type=int, default=8, help="candidates read per question")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--questions",
        type=Path,
        help="instead of SQuAD: an `assistant eval` file (gold_quote) over the sample corpus",
    )
    parser.add_argument(
        "--off-topic",
        type=int,
        metavar="N",
        help="instead: N of the SQuAD validation questions asked over the sample corpus, which "
        "answers none of them (the off-topic questions SQuAD itself lacks)",
    )
    args = parser.parse_args()

    from assistant.evaluate import load_questions, overlaps
    from assistant.reader import evidence, is_fragment
    from assistant.service import Service, sample_corpus_dir
    from assistant.settings import Settings

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="decision-"))
    if args.questions:
        folder = sample_corpus_dir()
        items = [
            {
                "id": q["id"],
                "article": "sample-corpus",
                "question": q["question"],
                "answerable": bool(q["answerable"]),
                "gold": [q.get("gold_quote") or ""],
                "plausible": [],
            }
            for q in load_questions(args.questions)
        ]

        def holds(gold: list[str], text: str) -> bool:
            return any(g and overlaps(g, text) for g in gold)
    elif args.off_topic:
        folder = sample_corpus_dir()
        asked = questions([a for a in read_squad(args.file) if a["title"] in VALIDATION])
        random.Random(7).shuffle(asked)
        items = [
            {
                **q,
                "id": f"off-topic:{q['id']}",
                "article": f"off-topic:{q['article']}",
                "answerable": False,
            }
            for q in asked[: args.off_topic]
        ]

        def holds(gold: list[str], text: str) -> bool:
            return False
    else:
        articles = [a for a in read_squad(args.file) if a["title"] in VALIDATION]
        folder = data_dir / "docs"
        articles_to_docs(articles, folder)
        items = questions(articles)

        def holds(gold: list[str], text: str) -> bool:
            return bool(gold) and is_hit(gold, [text])

    settings = Settings(data_dir=data_dir, chroma_url=None)
    service = Service(settings)
    service.ingest([folder], prune=True)
    reader, answerer = service.reader, service.answerer
    assert reader is not None
    with args.out.open("w", encoding="utf-8") as out:
        for i, item in enumerate(items, 1):
            q = item["question"]
            hits, ranked = answerer.rank(q)
            reader._prefilter(q, ranked)
            by_pre = sorted(ranked, key=lambda c: -c.prefilter)
            for r, cand in enumerate(ranked):
                cand.sup_rank = r
            for r, cand in enumerate(by_pre):
                cand.pre_rank = r
            chosen = list({id(c): c for c in [*by_pre[: args.read], *ranked[:4]]}.values())
            logits = reader.scorer.logits(q, [reader._pair(c) for c in chosen]) if chosen else []
            cands: list[dict[str, Any]] = []
            for cand, logit in zip(chosen, logits, strict=True):
                cand.logit = float(logit)
                cands.append(
                    {
                        **evidence(cand),
                        "text": cand.text,
                        "fragment": is_fragment(cand.text),
                        "doc": cand.hit.chunk.doc_id,
                        "start": cand.start,
                        "end": cand.end,
                        "gold": bool(item["answerable"] and holds(item["gold"], cand.text)),
                        "decoy": holds(item["plausible"], cand.text),
                    }
                )
            row = {
                "id": item["id"],
                "article": item["article"],
                "question": q,
                "answerable": item["answerable"],
                "n_candidates": len(ranked),
                "gold_anywhere": bool(
                    item["answerable"] and any(holds(item["gold"], c.text) for c in ranked)
                ),
                "top_hit_score": hits[0].score if hits else 0.0,
                "cands": cands,
            }
            out.write(json.dumps(row) + "\n")
            if i % 100 == 0:
                print(f"{i}/{len(items)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
