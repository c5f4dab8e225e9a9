"""Command line: parse arguments, call the service, render. Errors become exit codes here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from assistant import errors
from assistant.errors import AssistantError
from assistant.logs import log_to_stderr

EXIT_ERROR = 1
EXIT_USAGE = 2
# Every error of the family, and the exit code `assistant` ends with when one stops it.
EXIT_CODES: dict[type[AssistantError], int] = {
    errors.AssistantError: EXIT_ERROR,
    errors.BadRequest: EXIT_ERROR,
    errors.UploadTooLarge: EXIT_ERROR,
    errors.UnsupportedUpload: EXIT_ERROR,
    errors.NotFound: EXIT_ERROR,
    errors.StoreUnavailable: EXIT_ERROR,
    errors.ConfigurationError: EXIT_ERROR,
    errors.PromptInvalid: EXIT_ERROR,
    errors.LLMUnavailable: EXIT_ERROR,
    errors.PromptTooLong: EXIT_ERROR,
    errors.UnsafeBuild: EXIT_ERROR,
}


def exit_code(exc: AssistantError) -> int:
    """The table's code for the error's class, or its nearest listed base class."""
    return next(EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Answers questions about your documents; every sentence cites its source.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from ingest.loaders import SUPPORTED_LIST

    p = sub.add_parser("ingest", help="add or update documents (files or folders)")
    p.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help=f"a file, or a folder to read every file of; types read: {SUPPORTED_LIST}",
    )
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="tag every document (repeat)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("ask", help="answer one question with cited passages")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default=None,
        help="text (default), markdown (ready to paste into a brief) or json",
    )
    p.add_argument(
        "--open",
        type=int,
        default=None,
        metavar="N",
        help="also print citation N in its context (the surrounding paragraph)",
    )
    p.add_argument(
        "-k", type=int, default=None, help="passages to retrieve (default from settings)"
    )
    _scope_arguments(p)

    p = sub.add_parser("chat", help="interactive questions with follow-ups")
    _scope_arguments(p)
    p.add_argument("--save", type=Path, metavar="FILE", help="write the conversation to FILE")
    p.add_argument(
        "--resume", type=Path, metavar="FILE", help="continue a conversation saved with --save"
    )

    p = sub.add_parser("sources", help="list ingested documents")
    p.add_argument("--tag", default=None, metavar="TAG", help="only documents with this tag")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tag", help="add (or with --remove, remove) tags of a document")
    p.add_argument("doc_id")
    p.add_argument("tags", nargs="+", metavar="TAG")
    p.add_argument("--remove", action="store_true", help="remove these tags instead")

    p = sub.add_parser("remove", help="remove one document by id")
    p.add_argument("doc_id")

    p = sub.add_parser("serve", help="run the HTTP API and chat page")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)

    p = sub.add_parser("eval", help="measure retrieval and answers on a questions file")
    p.add_argument("questions", type=Path, metavar="QUESTIONS.jsonl")
    p.add_argument("--json", action="store_true")
    return parser


def _scope_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--doc",
        action="append",
        default=[],
        metavar="ID",
        help="answer only from this document (repeat; see `assistant sources`)",
    )
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="answer only from documents with this tag (repeat)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log_to_stderr()  # the service's notes (e.g. the sample ingest) and warnings
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
        return _fail(str(exc), exit_code(exc))
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


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress callback drawing a rich bar on a terminal from the first file on (so a
    store that needs no ingest shows none); None when piped or for --json."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    bar = Progress(
        TextColumn("ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=_console(stderr=True),
        transient=True,
    )
    task: TaskID | None = None

    def update(done: int, total: int, name: str) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("", total=None)
        bar.update(task, completed=done, total=total, description=name)

    try:
        yield update
    finally:
        bar.stop()


def cmd_ingest(settings: Any, args: Any) -> int:
    service = _service(settings)
    with _progress(not args.json) as progress:
        report = service.ingest(args.paths, prune=args.prune, progress=progress, tags=args.tag)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        from assistant.render import print_report

        print_report(_console(), report)
    nothing_loaded = not (report.added or report.updated or report.unchanged or report.removed)
    return EXIT_ERROR if report.failed and nothing_loaded else 0


def _ensure_documents(service: Any, quiet: bool) -> None:
    with _progress(not quiet) as progress:
        service.ensure_documents(progress=progress)


def cmd_ask(settings: Any, args: Any) -> int:
    fmt = args.format or ("json" if args.json else "text")
    service = _service(settings)
    service.check_question(args.question)  # before the sample ingest an empty store gets
    _ensure_documents(service, quiet=fmt != "text")
    scope = service.scope(args.doc, args.tag)
    streamed = fmt == "text" and service.generator is not None and args.open is None
    answer = _ask(service, args.question, [], args.k, scope, streamed=streamed)
    opened = args.open is not None and not answer.refused
    if opened and not 1 <= args.open <= len(answer.citations):
        return _fail(
            f"--open {args.open}: the answer has {len(answer.citations)} citation(s)",
            EXIT_USAGE,
        )
    passage = None
    if opened:
        cited = answer.citations[args.open - 1]
        passage = service.passage(cited.doc_id, cited.start, cited.end)
    if fmt == "json":
        data = answer.as_dict()
        if passage is not None:
            data["opened"] = {"n": args.open, **passage.as_dict()}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        from assistant.render import answer_markdown, passage_markdown

        print(answer_markdown(answer))
        if passage is not None:
            print(passage_markdown(args.open, passage))
    else:
        from assistant.render import print_answer, print_passage

        print_answer(_console(), answer, streamed=streamed)
        if passage is not None:
            print_passage(_console(), args.open, passage)
    return 0


def _ask(
    service: Any, question: str, history: list[Any], k: int | None, scope: Any, *, streamed: bool
) -> Any:
    """The answer; while a generated one is written (it takes seconds) a terminal shows a
    status. It is verified before anything is shown, so only checked sentences stream."""
    console = _console()
    writing = streamed and console.is_terminal
    with console.status("writing the answer…") if writing else nullcontext():
        return service.ask(question, history, k=k, scope=scope)


def cmd_chat(settings: Any, args: Any) -> int:
    from assistant.conversation import Message, load_conversation, save_conversation
    from assistant.render import print_answer

    service = _service(settings)
    history: list[Message] = []
    documents, tags = args.doc, args.tag
    if args.resume is not None:
        history, saved = load_conversation(args.resume)
        if not documents and not tags:  # resumed in the scope it was saved in
            documents, tags = saved["documents"], saved["tags"]
    _ensure_documents(service, quiet=False)
    scope = service.scope(documents, tags)
    saved_scope = {"documents": list(documents), "tags": list(tags)}
    console = _console()
    console.print(
        "Ask about your documents. Follow-up questions use the conversation so far. "
        "Empty line or Ctrl-D to quit."
    )
    if history:
        turns = sum(m.role == "user" for m in history)
        console.print(f"[dim]Resumed {turns} question(s) from {escape_path(args.resume)}.[/]")
    save_to = args.save or args.resume
    streamed = service.generator is not None
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            answer = _ask(service, question, history, None, scope, streamed=streamed)
        except AssistantError as exc:
            console.print(f"[red]error:[/] {exc}")
            continue
        print_answer(console, answer, streamed=streamed)
        history += [Message("user", question), Message("assistant", answer.answer)]
        if save_to is not None:
            save_conversation(save_to, history, saved_scope)  # after every answer
    return 0


def escape_path(path: Path) -> str:
    from rich.markup import escape

    return escape(str(path))


def cmd_sources(settings: Any, args: Any) -> int:
    records = _service(settings).sources(tag=args.tag)
    if args.json:
        rows = [{**vars(r), "tags": r.tag_list} for r in records]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        from assistant.render import print_sources

        print_sources(_console(), records)
    return 0


def cmd_remove(settings: Any, args: Any) -> int:
    removed = _service(settings).remove(args.doc_id)
    print(f"removed {args.doc_id} ({removed} chunks)")
    return 0


def cmd_tag(settings: Any, args: Any) -> int:
    service = _service(settings)
    if args.remove:
        record = service.set_tags(args.doc_id, remove=args.tags)
    else:
        record = service.set_tags(args.doc_id, add=args.tags)
    print(f"{record.doc_id}: tags {', '.join(record.tag_list) or '(none)'}")
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
    "tag": cmd_tag,
    "serve": cmd_serve,
    "eval": cmd_eval,
}

if __name__ == "__main__":
    sys.exit(main())
