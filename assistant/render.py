"""Human-readable terminal output (rich) for answers, ingest reports and source lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from assistant.answer import Answer
from assistant.retrieval import Scope
from ingest.store import DocRecord
from ingest.sync import IngestReport

if TYPE_CHECKING:
    from assistant.service import Passage


def describe_scope(scope: Scope) -> str:
    """'2 documents (tag belem-do-para; cp-federal.pdf)': what a scoped answer was limited to."""
    named = [f"tag {t}" for t in scope.tags] + list(scope.documents)
    count = len(scope.doc_ids)
    return f"{count} document{'s' if count != 1 else ''} ({'; '.join(named)})"


def print_answer(console: Console, answer: Answer, *, streamed: bool = False) -> None:
    """The answer, then its citations (or, for a refusal, the closest passages). ``streamed``
    prints the text sentence by sentence as ``Service.ask_stream`` cuts it, unwrapped."""
    if answer.scope is not None:
        console.print(f"[dim]Searched only {escape(describe_scope(answer.scope))}.[/]")
    if answer.refused:
        console.print(f"[bold yellow]{escape(answer.answer)}[/]")
        if answer.passages:
            console.print("\n[dim]Closest passages (they do not answer the question):[/]")
            for p in answer.passages:
                console.print(f"[dim]- {escape(p.title)} — {escape(p.location or p.doc_id)}[/]")
        return
    if streamed:
        from assistant.generate import sentence_pieces

        for piece in sentence_pieces(answer.answer):
            console.print(escape(piece), end="", soft_wrap=True)
            console.file.flush()
        console.print("\n")
    else:
        console.print(escape(answer.answer))
        console.print()
    print_citations(console, answer)


def _where(title: str, location: str) -> str:
    return title + (f" — {location}" if location else "")


def print_citations(console: Console, answer: Answer) -> None:
    """Each citation: number, title and location, the quote, then the document and offsets."""
    for c in answer.citations:
        console.print(f"[bold cyan][{c.n}][/] [bold]{escape(_where(c.title, c.location))}[/]")
        console.print(Padding(Text(f"“{c.quote}”", style="italic"), (0, 0, 0, 4)))
        console.print(f"    [dim]{escape(c.source or c.doc_id)} · chars {c.start}–{c.end}[/]")


def answer_markdown(answer: Answer) -> str:
    """The answer ready to paste into a brief: the text with its [n] markers, then for each
    citation the quote as a block quote with its source and location."""
    lines: list[str] = []
    if answer.scope is not None:
        lines += [f"*Searched only {describe_scope(answer.scope)}.*", ""]
    if answer.refused:
        return "\n".join([*lines, f"**{answer.answer}**", ""])
    lines += [answer.answer, ""]
    for c in answer.citations:
        quote = " ".join(c.quote.split())
        lines.append(f"[{c.n}] **{_md(c.title)}**" + (f", {_md(c.location)}" if c.location else ""))
        lines.append(f"> {_md(quote)}")
        source = c.source or c.doc_id
        lines += [f"> — {_md(source)} (characters {c.start}–{c.end})", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text safe inside Markdown: characters that would start markup are escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def print_passage(console: Console, n: int, passage: Passage) -> None:
    """Citation ``n`` in its context: the surrounding paragraph with the quote highlighted."""
    console.print()
    where = escape(_where(passage.title, passage.location))
    console.rule(f"[bold cyan][{n}][/] {where}", align="left")
    lo, hi = passage.quote_start - passage.start, passage.quote_end - passage.start
    body = Text(passage.text[:lo])
    body.append(passage.text[lo:hi], style="bold reverse")
    body.append(passage.text[hi:])
    console.print(body)
    console.print(
        f"[dim]{escape(passage.source or passage.doc_id)} · chars "
        f"{passage.quote_start}–{passage.quote_end}[/]"
    )


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
    table = Table("id", "title", "tags", "chunks", "ingested", "source", box=None)
    for r in records:
        when = datetime.fromtimestamp(r.ingested_at, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            escape(r.doc_id),
            escape(r.title[:60]),
            escape(", ".join(r.tag_list)),
            str(r.chunks),
            when,
            escape(r.source[:70]),
        )
    console.print(table)


def passage_markdown(n: int, passage: Passage) -> str:
    """Citation ``n`` in its context, as Markdown: the paragraph with the quote in bold."""
    lo, hi = passage.quote_start - passage.start, passage.quote_end - passage.start
    where = _md(passage.title) + (f", {_md(passage.location)}" if passage.location else "")
    text = f"{_md(passage.text[:lo])}**{_md(passage.text[lo:hi])}**{_md(passage.text[hi:])}"
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"Context of [{n}], {where}:\n\n{quoted}\n"
