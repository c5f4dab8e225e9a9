"""A small OpenAI-compatible chat-completions server on loopback that replies from a script.

It speaks the real wire protocol (``POST /v1/chat/completions``, JSON or Server-Sent Events
when ``"stream": true``), so the official ``openai`` client inside LangChain's ``ChatOpenAI``
talks to it exactly as it would to a real server. It also answers Ollama's ``POST /api/chat``
(newline-delimited JSON when streaming) for ``ChatOllama``. It records every request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[list[dict[str, Any]]], str]


class ScriptError(Exception):
    """Raised by a script to make the server answer with an OpenAI-style error."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeOpenAI:
    def __init__(self, script: Script):
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def prompts(self) -> list[str]:
        """The text of every request's messages, joined, in order of arrival."""
        return ["\n".join(str(m.get("content")) for m in r["messages"]) for r in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": "scripted"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                path = self.path.rstrip("/")
                if path not in ("/v1/chat/completions", "/api/chat"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if path == "/api/chat":
                    self._ollama(body)
                    return
                try:
                    text = fake.script(body["messages"])
                except ScriptError as exc:
                    error = {"message": exc.message, "type": "invalid_request_error"}
                    self._json(exc.status, {"error": {**error, "code": exc.code}})
                    return
                except Exception as exc:  # a broken script is a server error, not a hang
                    self._json(500, {"error": {"message": repr(exc), "type": "server_error"}})
                    return
                if body.get("stream"):
                    self._stream(body, text)
                else:
                    self._json(200, _completion(body, text))

            def _ollama(self, body: dict[str, Any]) -> None:
                text = fake.script(body["messages"])
                base = {"model": body.get("model", ""), "created_at": "2024-01-01T00:00:00Z"}
                done = {
                    **base,
                    "done": True,
                    "done_reason": "stop",
                    "prompt_eval_count": 1,
                    "eval_count": len(text.split()),
                }
                if not body.get("stream", True):
                    message = {"role": "assistant", "content": text}
                    self._json(200, {**done, "message": message})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                for piece in _pieces(text):
                    line = {**base, "message": {"role": "assistant", "content": piece}}
                    self.wfile.write((json.dumps({**line, "done": False}) + "\n").encode())
                    self.wfile.flush()
                final = {**done, "message": {"role": "assistant", "content": ""}}
                self.wfile.write((json.dumps(final) + "\n").encode())
                self.wfile.flush()

            def _json(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                }

                def send(choices: list[dict[str, Any]], **extra: Any) -> None:
                    data = json.dumps({**base, "choices": choices, **extra})
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()

                send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
                for piece in _pieces(text):
                    send([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
                send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
                if (body.get("stream_options") or {}).get("include_usage"):
                    send([], usage=_usage(body, text))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def _pieces(text: str, size: int = 3) -> list[str]:
    """Token-like pieces: a few characters at a time, so streams arrive in many chunks."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
    completion = len(text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(body, text),
    }
