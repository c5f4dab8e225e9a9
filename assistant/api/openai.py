"""The OpenAI chat-completions protocol over the same service: ``/v1/chat/completions``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter

from assistant.api.deps import ServiceDep, documented_key
from assistant.api.render import (
    AnswerEvent,
    event_stream,
    public_answer,
    public_data,
    sse,
    stream_pieces,
)
from assistant.api.schemas import (
    MAX_SCOPE,
    MAX_TEXT_CHARS,
    MODEL_ID,
    CompletionMessage,
    CompletionRequest,
)
from assistant.conversation import Message as Turn
from assistant.errors import BadRequest

openai_api = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], dependencies=documented_key)


@openai_api.post("/chat/completions")
def chat_completions(body: CompletionRequest, service: ServiceDep) -> Any:
    """OpenAI-compatible chat completion; citations in the extra field `citations`."""
    question, history = _openai_conversation(body.messages)
    extra = body.model_extra or {}
    scope = service.scope(_names(extra, "documents"), _names(extra, "tags"))
    count = service.embedder.count_tokens
    if body.stream:
        events = list(service.ask_stream(question, history, scope=scope))
        reply = _Completion(body.model, public_data(events[-1]["answer"]), count)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return event_stream(reply.chunks(events, include_usage), done_marker=True)
    answer = service.ask(question, history, scope=scope)
    return _Completion(body.model, public_answer(answer), count).response()


@openai_api.get("/models")
def list_models() -> Any:
    """The one model this server offers (for clients that list models first)."""
    model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "cited-assistant"}
    return {"object": "list", "data": [model]}


def _names(extra: dict[str, Any], field: str) -> list[str]:
    """A list-of-strings extra body field of the OpenAI route (``documents``, ``tags``)."""
    value = extra.get(field) or []
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > MAX_SCOPE
        or not all(isinstance(v, str) and 0 < len(v) <= 500 for v in value)
    ):
        raise BadRequest(f"`{field}` must be a list of at most {MAX_SCOPE} non-empty strings")
    return value


def _message_text(message: CompletionMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = []
    for part in message.content:
        if part.type not in ("text", "input_text") or part.text is None:
            raise BadRequest(f"only text content is supported, not {part.type!r}")
        texts.append(part.text)
    return "\n".join(texts)


def _openai_conversation(messages: Sequence[CompletionMessage]) -> tuple[str, list[Turn]]:
    """The question (last user message) and the user/assistant turns before it."""
    turns: list[Turn] = []
    for message in messages:
        if message.role not in ("user", "assistant"):
            continue  # system prompts and tool output do not change an extractive answer
        text = _message_text(message)
        if len(text) > MAX_TEXT_CHARS:
            raise BadRequest(f"a message is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        turns.append(Turn("user" if message.role == "user" else "assistant", text))
    if not turns or turns[-1].role != "user":
        raise BadRequest("the last message must be the user's question (role 'user')")
    return turns[-1].content, turns[:-1]


class _Completion:
    """One answer (its public JSON) rendered in the OpenAI chat-completions shapes."""

    def __init__(self, model: str, answer: dict[str, Any], count: Callable[[str], int]):
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.count = count
        self.created = int(time.time())
        self.model = model
        self.answer = answer
        self.extra = {key: answer[key] for key in ("citations", "refused", "passages")}

    def _usage(self) -> dict[str, int]:
        # counted by the embedding model's WordPiece tokenizer, the one model that read them
        prompt = self.count(self.answer["question"])
        completion = self.count(self.answer["answer"])
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def response(self) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": self.answer["answer"], "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self._usage(),
            **self.extra,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            **extra,
        }
        return sse(chunk)

    def chunks(self, events: Sequence[AnswerEvent], include_usage: bool) -> Iterator[str]:
        """The stream of chunks for the service's answer events."""
        yield self._chunk({"role": "assistant", "content": ""}, None)
        for event in events:
            if event["type"] == "token":
                for piece in stream_pieces(event["text"]):
                    yield self._chunk({"content": piece}, None)
            elif event["type"] == "done":
                yield self._chunk({}, "stop", **self.extra)
        if include_usage:
            usage = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self._usage(),
            }
            yield sse(usage)
