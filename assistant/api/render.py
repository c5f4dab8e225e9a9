"""The answer as it leaves the API: public sources only, and Server-Sent Events framing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from assistant.answer import Answer
from assistant.service import public_source


def public_answer(answer: Answer) -> dict[str, Any]:
    """The answer JSON for HTTP clients: sources are URLs or document names, never paths on
    the server."""
    data = answer.as_dict()
    for citation in [*data["citations"], *data["passages"]]:
        citation["source"] = public_source(citation["source"], citation["doc_id"])
    return data


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


def chat_events(answer: Answer) -> Iterator[str]:
    data = public_answer(answer)
    for piece in stream_pieces(answer.answer):
        yield sse({"delta": piece}, "answer")
    extra = {key: data[key] for key in ("refused", "citations", "passages")}
    yield sse(extra, "citations")
    yield sse(data, "done")
