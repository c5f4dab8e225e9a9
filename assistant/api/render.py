"""The answer as it leaves the API: public sources only, and Server-Sent Events framing.

Both streaming routes (``/api/chat`` and ``/v1/chat/completions``) render the one event stream
of ``Service.ask_stream``; only the framing differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi.responses import StreamingResponse

from assistant.answer import Answer
from assistant.service import public_source

AnswerEvent = dict[str, Any]  # one event of Service.ask_stream


def public_answer(answer: Answer) -> dict[str, Any]:
    """The answer JSON for HTTP clients: sources are URLs or document names, never paths on
    the server."""
    return public_data(answer.as_dict())


def public_data(data: dict[str, Any]) -> dict[str, Any]:
    """``public_answer`` of an answer already in JSON form (the ``done`` event's)."""
    return {
        **data,
        "citations": public_citations(data["citations"]),
        "passages": public_citations(data["passages"]),
    }


def public_citations(citations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "source": public_source(c["source"], c["doc_id"])} for c in citations]


_PIECE = re.compile(r".*?(?:\[\d+\]\s*|[.!?]\s+(?=[\"“‘(]?[A-Z0-9])|$)", re.DOTALL)


def stream_pieces(text: str) -> list[str]:
    """Split an answer after each citation marker or sentence end; the pieces join to it."""
    return [m.group(0) for m in _PIECE.finditer(text) if m.group(0)]


def sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(events: Iterator[str], done_marker: bool = False) -> StreamingResponse:
    def body() -> Iterator[str]:
        yield from events
        if done_marker:
            yield "data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def chat_events(events: Sequence[AnswerEvent]) -> Iterator[str]:
    """``/api/chat`` as SSE: ``answer`` deltas, one ``citations`` event, then ``done``."""
    refused = events[-1]["refused"]  # the citations event tells clients, ahead of done
    for event in events:
        if event["type"] == "token":
            for piece in stream_pieces(event["text"]):
                yield sse({"delta": piece}, "answer")
        elif event["type"] == "citations":
            cited = {
                "refused": refused,
                "citations": public_citations(event["citations"]),
                "passages": public_citations(event["passages"]),
            }
            yield sse(cited, "citations")
        elif event["type"] == "done":
            yield sse(public_data(event["answer"]), "done")
