"""Train the reader (assistant/models/reader.safetensors): a MiniLM cross-encoder that gives, for
a question and one candidate sentence with its document title and neighbours, the probability
that the sentence answers the question.

Data: SQuAD 2.0 (Rajpurkar, Jia and Liang 2018; CC BY-SA 4.0), the 20 dev-set articles in
``../shared/data/qa/squad2-20-articles.json``, split by article: the 15 in ``train_articles``
are learned from, the 5 in ``VALIDATION`` are never trained on (they calibrate the refusal
threshold and measure the result, bench/qa.py).

Pairs, per question, over sentences cut by the project's own splitter (ingest.sentences):
- answerable: the sentence holding the answer is positive; up to 3 other sentences of its
  paragraph (most words shared with the question first) and the most question-like sentence
  of another paragraph of the article are negatives;
- unanswerable: every sentence is negative, and the sentence holding the crowdworker's
  plausible (decoy) answer is always among them: the hard case of "looks answerable";
- a few headings and sentence fragments as negatives, so neither is ever an answer alone.

Model: all-MiniLM-L6-v2 (bundled), word embeddings frozen, all six layers and a linear head on
the mean-pooled output trained with binary cross-entropy, AdamW, linear warm-up and decay. With
``--span-weight W`` (default 0, as the shipped run), a second, token-level head also learns
where the answer starts and ends inside an answering sentence (SQuAD's answer span; the first
token for a sentence that does not answer): the encoder must find the words asked for, not only
judge the topic; reading still uses the pooled logit only. Measured 2026-12-08 with W 0.5 (seed
13, 2 epochs, 50 min): gold paragraph given, the answering sentence first 0.819 instead of
0.799, answerability AUC 0.731 instead of 0.724; through retrieval, with the decision refitted
on it, more answers right on SQuAD but more of the sample corpus's unanswerable questions
answered, so it is not shipped (README, "The answer decision").

    python bench/train_reader.py ../shared/data/qa/squad2-20-articles.json \
        --out assistant/models/reader.safetensors [--epochs 2] [--max-minutes 40]

Seeded (``--seed``); prints per-epoch validation figures (sentence accuracy, answerability AUC)
and writes them next to the weights as ``reader.json``. Results of the shipped run are in
assistant/models/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.reader_model import (  # noqa: E402
    MAX_TOKENS,
    build,
    freeze_embeddings,
    pair_text,
    trained_state,
)
from ingest.sentences import sentence_spans  # noqa: E402

VALIDATION = (
    "Normans",
    "Victoria_(Australia)",
    "Black_Death",
    "Pharmacy",
    "Jacksonville,_Florida",
)
_WORD = re.compile(r"\w+")


@dataclass
class Pair:
    question: str
    text: str
    label: float
    answers: tuple[str, ...] = ()  # for a positive: the gold answer strings, for the span head


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def paragraph_sentences(context: str) -> list[tuple[int, int]]:
    return sentence_spans(context) or [(0, len(context))]


def with_context(title: str, context: str, spans: list[tuple[int, int]], i: int) -> str:
    s, e = spans[i]
    before = context[spans[i - 1][0] : spans[i - 1][1]] if i > 0 else ""
    after = context[spans[i + 1][0] : spans[i + 1][1]] if i + 1 < len(spans) else ""
    return pair_text(context[s:e], title.replace("_", " "), before, after)


def holding(spans: list[tuple[int, int]], offset: int) -> int | None:
    for i, (s, e) in enumerate(spans):
        if s <= offset < e:
            return i
    return None


def article_pairs(article: dict, rng: random.Random) -> list[Pair]:
    title = article["title"]
    paragraphs = [p["context"] for p in article["paragraphs"]]
    spans = [paragraph_sentences(c) for c in paragraphs]
    pool = [
        (pi, i, words(c[s:e]))
        for pi, c in enumerate(paragraphs)
        for i, (s, e) in enumerate(spans[pi])
    ]
    pairs: list[Pair] = []
    for pi, paragraph in enumerate(article["paragraphs"]):
        context = paragraph["context"]
        sp = spans[pi]
        for qa in paragraph["qas"]:
            q = qa["question"].strip()
            qw = words(q)
            gold = qa["plausible_answers"] if qa["is_impossible"] else qa["answers"]
            marked = {holding(sp, a["answer_start"]) for a in gold} - {None}
            positives = set() if qa["is_impossible"] else marked
            answers = tuple(dict.fromkeys(" ".join(a["text"].split()) for a in gold))
            for i in positives:
                pairs.append(Pair(q, with_context(title, context, sp, i), 1.0, answers))
            others = [i for i in range(len(sp)) if i not in positives]
            others.sort(key=lambda i: -len(qw & words(context[sp[i][0] : sp[i][1]])))
            chosen = [i for i in others if i in marked]  # the decoy, when unanswerable
            chosen += [i for i in others if i not in chosen][: 3 if positives else 2]
            for i in chosen:
                pairs.append(Pair(q, with_context(title, context, sp, i), 0.0))
            elsewhere = [(len(qw & w), p, i) for p, i, w in pool if p != pi]
            if elsewhere:
                _, p, i = max(elsewhere)
                pairs.append(Pair(q, with_context(title, paragraphs[p], spans[p], i), 0.0))
            r = rng.random()
            if r < 0.05:  # a heading is never an answer
                pairs.append(Pair(q, pair_text(title.replace("_", " ")), 0.0))
            elif r < 0.10 and positives:  # nor a fragment of the answering sentence
                s, e = sp[next(iter(positives))]
                cut = context[s:e].split()[: rng.randint(2, 4)]
                pairs.append(Pair(q, pair_text(" ".join(cut), title.replace("_", " ")), 0.0))
    return pairs


def span_targets(enc, pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row, the token where the answer starts and where it ends inside the candidate
    sentence (the start of the pair's second segment), or 0 (the first token) for a negative;
    and which rows count (a positive whose answer was not found in its tokens does not)."""
    starts, ends, used = [], [], []
    for row, pair in enumerate(pairs):
        start = end = 0
        ok = pair.label < 0.5
        if not ok:
            sentence = pair.text.split(" || ")[0]
            found = next(((sentence.find(a), a) for a in pair.answers if a and a in sentence), None)
            if found is not None:
                lo, hi = found[0], found[0] + len(found[1])
                seq = enc.sequence_ids(row)
                offsets = enc["offset_mapping"][row].tolist()
                toks = [t for t, sid in enumerate(seq) if sid == 1]
                first = [t for t in toks if offsets[t][1] > lo]
                last = [t for t in toks if offsets[t][0] < hi]
                if first and last and first[0] <= last[-1]:
                    start, end, ok = first[0], last[-1], True
        starts.append(start)
        ends.append(end)
        used.append(ok)
    return torch.tensor(starts), torch.tensor(ends), torch.tensor(used)


def span_loss(
    span_logits: torch.Tensor, enc, starts: torch.Tensor, ends: torch.Tensor, used: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over the first token and the candidate segment's tokens."""
    allowed = torch.zeros(span_logits.shape[:2], dtype=torch.bool)
    for row in range(span_logits.shape[0]):
        allowed[row, 0] = True
        for t, sid in enumerate(enc.sequence_ids(row)):
            if sid == 1:
                allowed[row, t] = True
    logits = span_logits.masked_fill(~allowed.unsqueeze(-1), -1e4)
    if not bool(used.any()):
        return span_logits.sum() * 0.0
    ce = torch.nn.functional.cross_entropy
    return 0.5 * (ce(logits[used, :, 0], starts[used]) + ce(logits[used, :, 1], ends[used]))


def span_margin(span_logits: torch.Tensor, enc, longest: int = 30) -> np.ndarray:
    """Per row, the best answer span's start + end logit minus the first token's (no answer)."""
    out = np.zeros(span_logits.shape[0])
    for row in range(span_logits.shape[0]):
        toks = [t for t, sid in enumerate(enc.sequence_ids(row)) if sid == 1]
        if not toks:
            out[row] = -1e4
            continue
        st = span_logits[row, toks, 0]
        en = span_logits[row, toks, 1]
        grid = st[:, None] + en[None, :]
        n = len(toks)
        i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        grid = grid.masked_fill((j < i) | (j - i >= longest), -1e4)
        out[row] = float(grid.max() - (span_logits[row, 0, 0] + span_logits[row, 0, 1]))
    return out


def evaluate(model, tokenizer, articles: list[dict], batch: int = 64) -> dict[str, float]:
    """Per question, every sentence of its paragraph scored: top-1 accuracy on answerable
    questions, and how well the best sentence's score tells answerable from unanswerable."""
    model.eval()
    best_scores: list[float] = []
    best_span: list[float] = []
    best_sum: list[float] = []
    labels: list[int] = []
    correct = answerable = 0
    with torch.inference_mode():
        for article in articles:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                sp = paragraph_sentences(context)
                texts = [with_context(article["title"], context, sp, i) for i in range(len(sp))]
                for qa in paragraph["qas"]:
                    enc = tokenizer(
                        [qa["question"]] * len(texts),
                        texts,
                        truncation="only_second",
                        max_length=MAX_TOKENS,
                        padding=True,
                        return_tensors="pt",
                    )
                    out, span_logits = model.forward_all(**enc)
                    logits = out.numpy()
                    best_scores.append(float(logits.max()))
                    if span_logits is not None:
                        margin = span_margin(span_logits, enc)
                        best_span.append(float(margin.max()))
                        best_sum.append(float((logits + 0.25 * margin).max()))
                    labels.append(0 if qa["is_impossible"] else 1)
                    if not qa["is_impossible"]:
                        answerable += 1
                        marked = {holding(sp, a["answer_start"]) for a in qa["answers"]}
                        correct += int(int(np.argmax(logits)) in marked)
    model.train()
    return {
        "sentence_accuracy": correct / max(answerable, 1),
        "answerable_auc": auc(np.array(best_scores), np.array(labels)),
        **(
            {
                "answerable_auc_span": auc(np.array(best_span), np.array(labels)),
                "answerable_auc_sum": auc(np.array(best_sum), np.array(labels)),
            }
            if best_span
            else {}
        ),
        "questions": float(len(labels)),
    }


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, default=Path("assistant/models/reader.safetensors"))
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-minutes", type=float, default=60.0)
    parser.add_argument("--eval-every", type=int, default=0, help="steps; 0 = once per epoch")
    parser.add_argument(
        "--span-weight", type=float, default=0.0, help="weight of the answer-span loss; 0 = off"
    )
    args = parser.parse_args()

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = json.loads(args.data.read_text())["data"]
    train = [a for a in data if a["title"] not in VALIDATION]
    valid = [a for a in data if a["title"] in VALIDATION]
    assert len(valid) == len(VALIDATION), "validation articles missing from the data file"
    rng = random.Random(args.seed)
    pairs = [p for a in train for p in article_pairs(a, rng)]
    positives = sum(p.label for p in pairs)
    print(
        f"{len(train)} train articles, {len(pairs)} pairs ({positives:.0f} positive); "
        f"{len(valid)} validation articles",
        flush=True,
    )

    model, tokenizer = build(span_head=args.span_weight > 0)
    freeze_embeddings(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(pairs) / args.batch)
    total = int(steps_per_epoch * args.epochs)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    started = time.time()
    history: list[dict[str, float]] = []
    step = 0
    stop = False
    epoch = 0
    while step < total and not stop:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        running = 0.0
        for b in range(0, len(order), args.batch):
            idx = order[b : b + args.batch]
            enc = tokenizer(
                [pairs[i].question for i in idx],
                [pairs[i].text for i in idx],
                truncation="only_second",
                max_length=MAX_TOKENS,
                padding=True,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            target = torch.tensor([pairs[i].label for i in idx])
            inputs = {k: v for k, v in enc.items() if k != "offset_mapping"}
            logit, span_logits = model.forward_all(**inputs)
            loss = loss_fn(logit, target)
            if span_logits is not None:
                starts, ends, used = span_targets(enc, [pairs[i] for i in idx])
                loss = loss + args.span_weight * span_loss(span_logits, enc, starts, ends, used)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            running += float(loss.detach())
            step += 1
            if step % 50 == 0:
                minutes = (time.time() - started) / 60
                print(f"step {step}/{total} loss {running / 50:.4f} {minutes:.1f} min", flush=True)
                running = 0.0
            if args.eval_every and step % args.eval_every == 0:
                history.append({"step": step, **evaluate(model, tokenizer, valid)})
                print(history[-1], flush=True)
            if step >= total or (time.time() - started) / 60 > args.max_minutes:
                stop = (time.time() - started) / 60 > args.max_minutes
                break
        epoch += 1
        args.out.parent.mkdir(parents=True, exist_ok=True)
        from safetensors.torch import save_file

        save_file(trained_state(model), str(args.out))
        figures = {"epoch": epoch, "step": step, **evaluate(model, tokenizer, valid)}
        history.append(figures)
        print(figures, flush=True)
    result = {
        "seed": args.seed,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "span_weight": args.span_weight,
        "pairs": len(pairs),
        "train_articles": [a["title"] for a in train],
        "validation_articles": list(VALIDATION),
        "minutes": round((time.time() - started) / 60, 1),
        "history": history,
    }
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result["history"][-1]), flush=True)


if __name__ == "__main__":
    main()
