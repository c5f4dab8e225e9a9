"""Answers and refusals on SQuAD 2.0 through the product's real ingest and ask paths.

    python bench/qa.py FILE.json [--json] [--articles TITLE,...] [--data-dir DIR] [--limit N]
                       [--dump OUT.jsonl] [-k N]

FILE.json is in SQuAD 2.0 format. Every article becomes one Markdown document (file name = the
title made safe, first line ``# <title with underscores as spaces>``, then its paragraphs
separated by blank lines) that the real ``Service.ingest`` chunks, embeds and stores in Chroma;
every question is then asked on its own (no history) through the real ``Service.ask``, timed
with ``time.perf_counter``. The service is built as the CLI builds it (``Settings`` from the
``ASSISTANT_*`` variables and ``.env``, so e.g. a generative backend can be measured), except
that the store is always an embedded one under the data dir, never a Chroma server.

Measured (``--json`` prints one object with these keys):

- ``questions``, ``answerable``, ``unanswerable``: counts (``errors``: asks that raised);
- ``answer_recall``: answerable questions that were answered (not refused) with some gold
  answer text inside the quote of at least one citation, over all answerable questions.
  Matching is plain containment after lower-casing and collapsing whitespace (and Unicode NFC,
  as the stored text is NFC); no SQuAD article/punctuation stripping;
- ``answered_precision``: the same hits over the answerable questions that were answered;
- ``refusal_precision`` (unanswerable refused / all refused), ``refusal_recall`` (unanswerable
  refused / unanswerable), ``refusal_f1``, ``false_refusal_rate`` (answerable refused /
  answerable), ``unanswerable_answered`` (count);
- ``sentences_per_answer``: mean number of citations of the answers that were not refused;
- ``latency_ms``: ``p50`` and ``p95`` of the ask calls (after one untimed warm-up ask, which
  loads the model and the keyword index); ``ingest_s``: the ingest call.

A ratio whose denominator is zero is ``null``.

``--articles`` keeps only the listed articles (exact titles, as in the file: ``Black_Death``).
It may be repeated, and each value is also split on commas, but a title that itself contains a
comma is recognised whole (the longest run of comma-separated pieces that is a known title
wins), so ``--articles "Normans,Jacksonville,_Florida"`` means two articles. An unknown title
is an error that lists the available ones.

``--data-dir DIR`` keeps the documents (``DIR/docs``) and the store (``DIR/chroma``, ...) so a
second run reuses them: the incremental ingest skips unchanged files. The docs folder always
holds exactly the selected articles and is ingested with prune, so documents of articles not
selected this time are removed from the store. Without it, a temporary directory is used.

``--dump OUT.jsonl`` writes one line per question (id, article, question, answerable, refused,
gold answers, cited quotes, hit, latency_ms, ...) for later analysis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.evaluate import refusal_figures

if TYPE_CHECKING:
    from assistant.service import Service

PROGRESS_EVERY = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9_.()-]+")


# -- data ---------------------------------------------------------------------------------------
def read_squad(path: Path) -> list[dict[str, Any]]:
    """The articles of a SQuAD 2.0 file."""
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: not SQuAD format (no top-level 'data' list)")
    return list(data["data"])


def select_articles(
    articles: list[dict[str, Any]], wanted: Sequence[str] | None
) -> list[dict[str, Any]]:
    """The articles whose titles are named in ``wanted`` (values of ``--articles``), in file
    order; all of them when ``wanted`` is empty. Raises ValueError for an unknown title."""
    if not wanted:
        return articles
    known = {a["title"] for a in articles}
    chosen: set[str] = set()
    for value in wanted:
        chosen.update(split_titles(value, known))
    return [a for a in articles if a["title"] in chosen]


def split_titles(value: str, known: set[str]) -> list[str]:
    """``value`` split on commas into known titles; a run of pieces that joins (with commas)
    into a known title is kept together, longest run first (``Jacksonville,_Florida``)."""
    if value in known:
        return [value]
    pieces = value.split(",")
    titles: list[str] = []
    i = 0
    while i < len(pieces):
        for j in range(len(pieces), i, -1):
            candidate = ",".join(pieces[i:j]).strip()
            if candidate in known:
                titles.append(candidate)
                i = j
                break
        else:
            piece = pieces[i].strip()
            if piece:  # "A,,B" or a trailing comma: nothing to look up
                available = ", ".join(sorted(known))
                raise ValueError(f"unknown article {piece!r}; available: {available}")
            i += 1
    return titles


def safe_name(title: str) -> str:
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", title)).strip("._")
    return name[:120] or "article"


def article_markdown(article: dict[str, Any]) -> str:
    heading = f"# {article['title'].replace('_', ' ')}"
    paragraphs = [p["context"].strip() for p in article.get("paragraphs", [])]
    return "\n\n".join([heading, *paragraphs]) + "\n"


def articles_to_docs(articles: Iterable[dict[str, Any]], folder: Path) -> dict[str, Path]:
    """One Markdown file per article in ``folder`` (title -> file). Unchanged files are left
    alone, and other ``.md`` files there are deleted, so the folder holds exactly these."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    used: set[str] = set()
    for article in articles:
        stem = base = safe_name(article["title"])
        n = 1
        while stem.lower() in used:  # two titles that differ only in unsafe characters
            n += 1
            stem = f"{base}-{n}"
        used.add(stem.lower())
        path = folder / f"{stem}.md"
        content = article_markdown(article)
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        paths[article["title"]] = path
    keep = set(paths.values())
    for stale in folder.glob("*.md"):
        if stale not in keep:
            stale.unlink()
    return paths


def questions(articles: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every question, in file order: id, article, question, answerable, gold, plausible."""
    out = []
    for article in articles:
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                out.append(
                    {
                        "id": qa["id"],
                        "article": article["title"],
                        "question": qa["question"],
                        "answerable": not impossible,
                        "gold": unique(a["text"] for a in qa.get("answers", [])),
                        "plausible": unique(a["text"] for a in qa.get("plausible_answers", [])),
                    }
                )
    return out


def unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))


# -- metrics ------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def is_hit(gold: Sequence[str], quotes: Sequence[str]) -> bool:
    """Some gold answer text occurs (case and whitespace normalised) inside some quote."""
    wanted = [g for g in (normalise(t) for t in gold) if g]
    cited = [normalise(q) for q in quotes]
    return any(g in q for g in wanted for q in cited)


def ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def score(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of the module docstring from per-question records (``answerable``,
    ``refused``, ``quotes``, ``hit``, ``latency_ms``; ``error`` optional)."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    hits = sum(1 for r in answered if r["hit"])
    figures = refusal_figures([{**r, "sentences": len(r["quotes"])} for r in records])
    latencies = [r["latency_ms"] for r in records]
    return {
        "questions": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": sum(1 for r in records if r.get("error")),
        "answer_recall": ratio(hits, len(answerable)),
        "answered_precision": ratio(hits, len(answered)),
        **figures,
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
            "p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        },
    }


# -- running ------------------------------------------------------------------------------------
def build_service(data_dir: Path) -> Service:
    """The service as the CLI builds it, on an embedded store under ``data_dir``."""
    from assistant.service import Service
    from assistant.settings import Settings

    settings = Settings(data_dir=data_dir, chroma_url=None)
    return Service(settings)


def ask_all(
    service: Service,
    items: Sequence[dict[str, Any]],
    k: int | None,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Asks every question once, standalone (after one untimed warm-up ask); one record per
    question."""
    from assistant.errors import AssistantError

    if items:  # load the model and the keyword index before the clock starts
        with contextlib.suppress(AssistantError):
            service.ask(items[0]["question"], k=k)
    records = []
    started = time.perf_counter()
    for i, item in enumerate(items, 1):
        error = ""
        t0 = time.perf_counter()
        try:
            answer = service.ask(item["question"], k=k)
        except AssistantError as exc:  # e.g. an over-long question: counted, not fatal
            latency = 1000 * (time.perf_counter() - t0)
            error = str(exc)
            refused, quotes, docs = True, [], []
            log(f"error: question {item['id']}: {exc}")
        else:
            latency = 1000 * (time.perf_counter() - t0)
            refused = answer.refused
            quotes = [c.quote for c in answer.citations]
            docs = [c.doc_id for c in answer.citations]
        record = {
            **item,
            "refused": refused,
            "quotes": quotes,
            "cited_docs": docs,
            "hit": item["answerable"] and not refused and is_hit(item["gold"], quotes),
            "latency_ms": round(latency, 2),
        }
        if error:
            record["error"] = error
        records.append(record)
        if i % PROGRESS_EVERY == 0 or i == len(items):
            log(f"asked {i}/{len(items)} ({time.perf_counter() - started:.1f}s)")
    return records


def render(results: dict[str, Any], title: str) -> str:
    def fmt(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = [title]
    for key, value in results.items():
        if isinstance(value, dict):
            value = "  ".join(f"{k} {fmt(v)}" for k, v in value.items())
        lines.append(f"  {key:<24}{fmt(value)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("file", type=Path, metavar="FILE.json", help="SQuAD 2.0 format file")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--articles",
        action="append",
        metavar="TITLE,...",
        help="only these articles (exact titles; repeatable; comma-separated)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep documents and store here (default: a temp dir)"
    )
    parser.add_argument("--limit", type=int, help="ask only the first N questions")
    parser.add_argument("--dump", type=Path, metavar="OUT.jsonl", help="per-question records")
    parser.add_argument("-k", type=int, default=None, help="passages per question (1-50)")
    args = parser.parse_args(argv)
    if args.k is not None and not 1 <= args.k <= 50:
        parser.error("-k must be between 1 and 50")
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must not be negative")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        articles = select_articles(read_squad(args.file), args.articles)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    items = questions(articles)
    if args.limit is not None:
        items = items[: args.limit]
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        data_dir = (args.data_dir or Path(tmp)).resolve()
        docs_dir = data_dir / "docs"
        articles_to_docs(articles, docs_dir)
        service = build_service(data_dir)
        started = time.perf_counter()
        report = service.ingest([docs_dir], prune=True)
        ingest_s = time.perf_counter() - started
        if report.failed:
            raise SystemExit(f"ingest failed for {len(report.failed)} files: {report.failed[0]}")
        log(
            f"ingest: {report.added} added, {report.updated} updated, {report.unchanged} "
            f"unchanged, {report.removed} removed, {service.store.count()} chunks "
            f"({ingest_s:.1f}s) in {data_dir}"
        )
        records = ask_all(service, items, args.k, log)
    results = score(records)
    results["ingest_s"] = round(ingest_s, 2)
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        with args.dump.open("w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render(results, f"{args.file.name}: {len(articles)} articles"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
