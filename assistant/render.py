"""Human-readable terminal output (rich) for answers, ingest reports and source lists."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant.answer import Answer
from ingest.store import DocRecord
from ingest.sync import IngestReport


def print_answer(console: Console, answer: Answer) -> None:
    if answer.refused:
        console.print(f"[bold yellow]{escape(answer.answer)}[/]")
        if answer.passages:
            console.print("\n[dim]Closest passages (they do not answer the question):[/]")
            for p in answer.passages:
                console.print(f"[dim]- {escape(p.title)} — {escape(p.location or p.doc_id)}[/]")
        return
    console.print(escape(answer.answer))
    console.print()
    for c in answer.citations:
        where = f"{c.title}" + (f" — {c.location}" if c.location else "")
        console.print(f"[bold cyan][{c.n}][/] [bold]{escape(where)}[/]")
        console.print(f"    [italic]“{escape(c.quote)}”[/]")
        console.print(f"    [dim]{escape(c.source)} (chars {c.start}–{c.end})[/]")


def print_report(console: Console, report: IngestReport) -> None:
    console.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}; {report.chunks} chunks embedded in {report.seconds:.1f}s"
        + ("" if report.model_loaded else " (embedding model not loaded: nothing to embed)")
    )
    for failure in report.failed:
        console.print(f"[red]failed[/] {escape(failure['path'])}: {escape(failure['error'])}")


def print_sources(console: Console, records: list[DocRecord]) -> None:
    if not records:
        console.print("No documents yet. Add some with: assistant ingest PATH")
        return
    table = Table("id", "title", "chunks", "ingested", "source", box=None)
    for r in records:
        when = datetime.fromtimestamp(r.ingested_at, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            escape(r.doc_id), escape(r.title[:60]), str(r.chunks), when, escape(r.source[:70])
        )
    console.print(table)
