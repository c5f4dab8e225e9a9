"""Both streaming routes render the service's one event stream: the same pieces, citations."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from assistant.api import stream_pieces

QUESTION = "Which countries are partners of Women LEAD?"


def sse_data(text: str) -> list[tuple[str, Any]]:
    """(event name, data) of each SSE block; the OpenAI stream's final [DONE] is left out."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        if fields["data"] != "[DONE]":
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_chat_and_openai_streams_cut_the_answer_alike(client: TestClient) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    plain = client.post("/api/chat", json={"messages": messages}).json()
    chat = sse_data(client.post("/api/chat", json={"messages": messages, "stream": True}).text)
    completion = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    chunks = [data for _, data in sse_data(completion.text)]

    deltas = [data["delta"] for name, data in chat if name == "answer"]
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert deltas == contents == stream_pieces(plain["answer"])
    assert len(deltas) > 1
    cited = dict(chat)["citations"]
    assert cited == {key: plain[key] for key in ("refused", "citations", "passages")}
    assert dict(chat)["done"] == plain
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert {key: last[key] for key in ("citations", "refused", "passages")} == cited
