"""`assistant eval`: measure retrieval, answers and refusals on a questions file.

Format (one JSON object per line): id, question, answerable, gold_doc, gold_quote,
answer_keywords, kind, optional followup_of (asked after its parent in one conversation).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from assistant.conversation import Message
from assistant.errors import BadRequest
from assistant.service import Service

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def overlaps(gold: str, text: str, min_chars: int = 25) -> bool:
    """Whether a passage shares the gold quote (or a long enough piece of it)."""
    g, t = _norm(gold), _norm(text)
    if not g or not t:
        return False
    if g in t or (len(t) >= min_chars and t in g):
        return True
    match = SequenceMatcher(None, g, t, autojunk=False).find_longest_match(0, len(g), 0, len(t))
    return match.size >= min(len(g) * 0.6, 60) and match.size >= min(min_chars, len(g))


def load_questions(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise BadRequest(f'{path}:{number}: each line needs a "question" string')
        item.setdefault("id", f"q{number}")
        item.setdefault("answerable", True)
        questions.append(item)
    ids = {q["id"] for q in questions}
    for q in questions:
        parent = q.get("followup_of")
        if parent and parent not in ids:
            raise BadRequest(f"question {q['id']}: followup_of {parent!r} is not in the file")
    return questions


def _history(
    q: dict[str, Any], by_id: dict[str, dict[str, Any]], answers: dict[str, str]
) -> list[Message]:
    chain: list[dict[str, Any]] = []
    parent = q.get("followup_of")
    while parent and parent in by_id and len(chain) < 10:
        chain.insert(0, by_id[parent])
        parent = by_id[parent].get("followup_of")
    history: list[Message] = []
    for p in chain:
        history += [Message("user", p["question"]), Message("assistant", answers.get(p["id"], ""))]
    return history


def run_eval(service: Service, path: Path) -> dict[str, Any]:
    questions = load_questions(path)
    by_id = {q["id"]: q for q in questions}
    answers: dict[str, str] = {}
    # parents first, so a follow-up's conversation has the parent's real answer
    ordered = sorted(questions, key=lambda q: _depth(q, by_id))
    rows = []
    for q in ordered:
        history = _history(q, by_id, answers)
        started = time.perf_counter()
        answer = service.ask(q["question"], history)
        latency = time.perf_counter() - started
        answers[q["id"]] = answer.answer
        hits = service.retrieve(q["question"], history, k=10)
        gold = q.get("gold_quote") or ""
        rank = next(
            (i + 1 for i, h in enumerate(hits) if gold and overlaps(gold, h.chunk.text)), None
        )
        if rank is not None and q.get("gold_doc") and hits[rank - 1].chunk.doc_id != q["gold_doc"]:
            rank = None
        keywords = q.get("answer_keywords") or []
        text = answer.answer.lower()
        rows.append(
            {
                "id": q["id"],
                "kind": q.get("kind", ""),
                "question": q["question"],
                "answerable": bool(q["answerable"]),
                "refused": answer.refused,
                "refusal_correct": answer.refused != bool(q["answerable"]),
                "gold_rank": rank,
                "cited_gold": bool(gold) and any(overlaps(gold, c.quote) for c in answer.citations),
                "keywords_ok": all(k.lower() in text for k in keywords) if keywords else None,
                "sentences": len(answer.citations),
                "latency_ms": round(latency * 1000, 1),
                "answer": answer.answer,
            }
        )
    rows.sort(key=lambda r: [q["id"] for q in questions].index(r["id"]))
    return {"summary": summarize(rows), "questions": rows}


def _depth(q: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> int:
    depth, parent = 0, q.get("followup_of")
    while parent and parent in by_id and depth < 10:
        depth, parent = depth + 1, by_id[parent].get("followup_of")
    return depth


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def refusal_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Refusal precision, recall and F1 (a refusal is right when the question is
    unanswerable), false-refusal rate and sentences per answer, from rows with
    ``answerable``, ``refused`` and ``sentences`` (citations in the answer). Shared with
    bench/qa.py so both report the same figures."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    refused = [r for r in rows if r["refused"]]
    right = sum(1 for r in unanswerable if r["refused"])
    precision = _ratio(right, len(refused))
    recall = _ratio(right, len(unanswerable))
    f1 = None
    if precision is not None and recall is not None:
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    answers = [r for r in rows if not r["refused"]]
    return {
        "refusal_precision": precision,
        "refusal_recall": recall,
        "refusal_f1": f1,
        "false_refusal_rate": _ratio(sum(1 for r in answerable if r["refused"]), len(answerable)),
        "unanswerable_answered": len(unanswerable) - right,
        "sentences_per_answer": _ratio(sum(r["sentences"] for r in answers), len(answers)),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    with_kw = [r for r in answerable if r["keywords_ok"] is not None]
    ranks = [r["gold_rank"] for r in answerable]
    n = len(answerable) or 1
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": round(sum(1 for x in ranks if x == 1) / n, 4),
        "hit@5": round(sum(1 for x in ranks if x is not None and x <= 5) / n, 4),
        "mrr": round(sum(1 / x for x in ranks if x) / n, 4),
        "keyword_accuracy": round(
            sum(1 for r in with_kw if r["keywords_ok"]) / (len(with_kw) or 1), 4
        ),
        "keyword_hits": f"{sum(1 for r in with_kw if r['keywords_ok'])}/{len(with_kw)}",
        "citation_accuracy": round(sum(1 for r in answerable if r["cited_gold"]) / n, 4),
        "citation_hits": f"{sum(1 for r in answerable if r['cited_gold'])}/{len(answerable)}",
        **refusal_figures(rows),
        "p50_latency_ms": round(statistics.median(r["latency_ms"] for r in rows), 1)
        if rows
        else None,
    }


def render_report(console: Any, report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("id", "kind", "gold rank", "cited", "keywords", "refusal", "ms", box=None)
    for r in report["questions"]:
        table.add_row(
            r["id"],
            r["kind"],
            str(r["gold_rank"] or "-"),
            _mark(r["cited_gold"]) if r["answerable"] else "",
            "" if r["keywords_ok"] is None else _mark(r["keywords_ok"]),
            ("refused " if r["refused"] else "answered ") + _mark(r["refusal_correct"]),
            f"{r['latency_ms']:.0f}",
        )
    console.print(table)
    s = report["summary"]
    console.print(
        f"\nhit@1 {s['hit@1']:.2f}  hit@5 {s['hit@5']:.2f}  MRR {s['mrr']:.2f}  "
        f"keywords {s['keyword_hits']}  citations {s['citation_hits']}  "
        f"refusal precision {_fmt(s['refusal_precision'])} recall {_fmt(s['refusal_recall'])} "
        f"F1 {_fmt(s['refusal_f1'])}  false refusals {_fmt(s['false_refusal_rate'])}  "
        f"sentences/answer {_fmt(s['sentences_per_answer'])}  "
        f"p50 {s['p50_latency_ms']} ms"
    )


def _mark(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
