"""ASGI middleware: the API key and body size limits, checked before anything is parsed."""

from __future__ import annotations

import hmac

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.api.errors import error_response

PUBLIC_PATHS = frozenset({"/", "/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)


class RequestGuard:
    def __init__(
        self, app: ASGIApp, *, api_key: str | None, upload_limit: int, body_limit: int
    ) -> None:
        self.app = app
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.upload_limit = upload_limit
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if self._needs_key(scope["method"], path) and not self._authorised(headers):
            message = (
                "missing or wrong API key; send it as 'Authorization: Bearer KEY' "
                "or 'X-API-Key: KEY'"
            )
            response = error_response(401, message, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        limit = self.upload_limit if path.rstrip("/") == "/api/documents" else self.body_limit
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            message = f"the request body is {length} bytes; the limit here is {limit}"
            await error_response(413, message)(scope, receive, send)
            return
        await self.app(scope, _limited(receive, limit), send)

    def _needs_key(self, method: str, path: str) -> bool:
        return self.api_key is not None and method != "OPTIONS" and not _is_public(path)

    def _authorised(self, headers: Headers) -> bool:
        given = headers.get("x-api-key")
        if given is None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                return False
            given = token.strip()
        assert self.api_key is not None
        return hmac.compare_digest(given.encode("utf-8"), self.api_key)


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _limited(receive: Receive, limit: int) -> Receive:
    """Count a body sent without Content-Length (chunked) and stop it at the limit."""
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
        return message

    return wrapped
