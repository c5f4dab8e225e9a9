"""Command line: parse arguments, call the service, render. Errors become exit codes here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

EXIT_ERROR = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Answers questions about your documents; every sentence cites its source.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="add or update documents (files or folders)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("ask", help="answer one question with cited passages")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument(
        "-k", type=int, default=None, help="passages to retrieve (default from settings)"
    )

    sub.add_parser("chat", help="interactive questions with follow-ups")

    p = sub.add_parser("sources", help="list ingested documents")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("remove", help="remove one document by id")
    p.add_argument("doc_id")

    p = sub.add_parser("serve", help="run the HTTP API and chat page")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)

    p = sub.add_parser("eval", help="measure retrieval and answers on a questions file")
    p.add_argument("questions", type=Path, metavar="QUESTIONS.jsonl")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "ask" and args.k is not None and not 1 <= args.k <= 50:
        return _fail("-k must be between 1 and 50", EXIT_USAGE)
    try:
        from pydantic import ValidationError

        from assistant.settings import Settings

        try:
            settings = Settings()
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "settings"
            return _fail(f"invalid setting {field}: {first['msg']} (check ASSISTANT_* variables)")
        handler: Callable[[Any, Any], int] = _COMMANDS[args.command]
        code = handler(settings, args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except AssistantError as exc:
        return _fail(str(exc))
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _reader_gone() -> int:
    """The output's reader went away (`assistant sources | head`): stop quietly, as Unix
    tools do; status 1, as Python's own recipe and rich (for its console output) use."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so nothing at exit writes to the pipe again
    os.close(devnull)
    return EXIT_ERROR


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _service(settings: Any) -> Any:
    from assistant.service import Service

    return Service(settings)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _progress(enabled: bool) -> Any:
    """A rich progress bar on a terminal; nothing when piped or for --json."""
    if not enabled or not sys.stderr.isatty():
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=_console(stderr=True),
        transient=True,
    )


def _run_ingest(service: Any, paths: list[Path], prune: bool, show: bool) -> Any:
    with _progress(show) as bar:
        callback = None
        if bar is not None:
            task = bar.add_task("", total=None)

            def callback(done: int, total: int, name: str) -> None:
                bar.update(task, completed=done, total=total, description=name)

        return service.ingest(paths, prune=prune, progress=callback)


def cmd_ingest(settings: Any, args: Any) -> int:
    service = _service(settings)
    report = _run_ingest(service, args.paths, args.prune, show=not args.json)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        from assistant.render import print_report

        print_report(_console(), report)
    nothing_loaded = not (report.added or report.updated or report.unchanged or report.removed)
    return EXIT_ERROR if report.failed and nothing_loaded else 0


def _ensure_documents(service: Any, quiet: bool) -> None:
    if service.is_empty():
        print("The store is empty: ingesting the bundled sample corpus first...", file=sys.stderr)
        from assistant.service import sample_corpus_dir

        report = _run_ingest(service, [sample_corpus_dir()], prune=False, show=not quiet)
        print(
            f"Ingested {report.added} sample documents ({report.chunks} chunks).", file=sys.stderr
        )


def cmd_ask(settings: Any, args: Any) -> int:
    service = _service(settings)
    service.check_question(args.question)  # before the sample ingest an empty store gets
    _ensure_documents(service, quiet=args.json)
    if not args.json and service.generator is not None:
        _stream_answer(service, args.question, [], args.k)
        return 0
    answer = service.ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.as_dict(), indent=2, ensure_ascii=False))
    else:
        from assistant.render import print_answer

        print_answer(_console(), answer)
    return 0


def _stream_answer(service: Any, question: str, history: list[Any], k: int | None) -> str:
    """Print a generated answer as it streams, then its sources; returns the answer text.

    The model's draft is verified before anything is shown, so only checked sentences stream."""
    from rich.markup import escape

    from assistant.answer import Answer, Citation
    from assistant.render import print_answer

    console = _console()
    waiting = console.status("writing the answer…") if console.is_terminal else nullcontext()
    with waiting:
        events = list(service.ask_stream(question, history, k=k))
    data = events[-1]["answer"]
    answer = Answer(
        data["answer"],
        data["refused"],
        [Citation(**c) for c in data["citations"]],
        question=data["question"],
        passages=[Citation(**c) for c in data["passages"]],
    )
    if answer.refused:
        print_answer(console, answer)
        return answer.answer
    for event in events:
        if event["type"] == "token":
            console.print(escape(event["text"]), end="", soft_wrap=True)
            console.file.flush()
    console.print("\n")
    for c in answer.citations:
        where = f"{c.title}" + (f" — {c.location}" if c.location else "")
        console.print(f"[bold cyan][{c.n}][/] [bold]{escape(where)}[/]")
        console.print(f"    [italic]“{escape(c.quote)}”[/]")
        console.print(f"    [dim]{escape(c.source)} (chars {c.start}–{c.end})[/]")
    return answer.answer


def cmd_chat(settings: Any, args: Any) -> int:
    from assistant.conversation import Message
    from assistant.render import print_answer

    service = _service(settings)
    _ensure_documents(service, quiet=False)
    console = _console()
    console.print(
        "Ask about your documents. Follow-up questions use the conversation so far. "
        "Empty line or Ctrl-D to quit."
    )
    history: list[Message] = []
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            if service.generator is not None:
                text = _stream_answer(service, question, history, None)
            else:
                answer = service.ask(question, history)
                print_answer(console, answer)
                text = answer.answer
        except AssistantError as exc:
            console.print(f"[red]error:[/] {exc}")
            continue
        history += [Message("user", question), Message("assistant", text)]
    return 0


def cmd_sources(settings: Any, args: Any) -> int:
    records = _service(settings).sources()
    if args.json:
        print(json.dumps([vars(r) for r in records], indent=2, ensure_ascii=False))
    else:
        from assistant.render import print_sources

        print_sources(_console(), records)
    return 0


def cmd_remove(settings: Any, args: Any) -> int:
    removed = _service(settings).remove(args.doc_id)
    print(f"removed {args.doc_id} ({removed} chunks)")
    return 0


def cmd_serve(settings: Any, args: Any) -> int:
    from assistant.api import serve

    serve(settings, host=args.host, port=args.port)
    return 0


def cmd_eval(settings: Any, args: Any) -> int:
    from assistant.evaluate import render_report, run_eval

    service = _service(settings)
    _ensure_documents(service, quiet=args.json)
    report = run_eval(service, args.questions)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render_report(_console(), report)
    return 0


_COMMANDS: dict[str, Callable[[Any, Any], int]] = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "sources": cmd_sources,
    "remove": cmd_remove,
    "serve": cmd_serve,
    "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
