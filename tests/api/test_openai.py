"""The official `openai` client against `/v1/chat/completions` of a real `assistant serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import openai
import pytest

from tests.api.live import LiveProcess

pytestmark = pytest.mark.slow

QUESTION = (
    "Which Senate committees are the appropriate congressional committees in the WPS statute?"
)


@pytest.fixture
def client(live_server: LiveProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused", max_retries=0) as c:
        yield c


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_completion_has_inline_markers_and_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="cited-assistant",
        messages=[
            {"role": "system", "content": "Answer from the documents."},
            {"role": "user", "content": QUESTION},
        ],
        temperature=0.2,
    )
    assert completion.object == "chat.completion" and completion.model == "cited-assistant"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    citations = (completion.model_extra or {})["citations"]
    assert markers(content) and markers(content) == {c["n"] for c in citations}
    assert "Committee on Foreign Relations" in content
    assert all(c["quote"] in content for c in citations)
    assert completion.usage is not None and completion.usage.total_tokens > 0
    # tokens, not words: WordPiece splits "Committee"-style words and counts punctuation
    assert completion.usage.completion_tokens > len(content.split())


def test_stream_joins_to_the_same_answer(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    stream = client.chat.completions.create(
        model="m",
        messages=messages,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, citations, usage = [], None, None, None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
                citations = (chunk.model_extra or {})["citations"]
    assert len(pieces) >= 2
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == "stop"
    assert citations == (whole.model_extra or {})["citations"]
    assert usage is not None and usage.completion_tokens > 0


def test_follow_up_through_the_message_list(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": QUESTION}]
    )
    follow = client.chat.completions.create(
        model="m",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            {"role": "user", "content": [{"type": "text", "text": "And in the House?"}]},
        ],
    )
    quotes = " ".join(c["quote"] for c in (follow.model_extra or {})["citations"])
    assert "House of Representatives" in quotes


def test_refusal_is_flagged(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "What is the boiling point of mercury on Jupiter?"}],
    )
    extra = completion.model_extra or {}
    assert extra["refused"] is True and extra["citations"] == []
    assert "don't answer" in (completion.choices[0].message.content or "")


def test_bad_requests_raise_client_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="last message must be the user"):
        client.chat.completions.create(
            model="m", messages=[{"role": "assistant", "content": "hello"}]
        )
    with pytest.raises(openai.BadRequestError, match="the limit is"):
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x" * 100_000}]
        )


def test_models_list(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["cited-assistant"]
