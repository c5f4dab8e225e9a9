"""Errors as JSON: ``{"error": {"message", "type", "status"}}``, whatever raised them.

The assistant's own errors carry their status (``AssistantError.status_code``); this is the
one place they become HTTP responses.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import AssistantError, StoreUnavailable

log = logging.getLogger(__name__)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request_error",
    503: "service_unavailable",
}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "status": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "cannot parse it")
            return 400, f"malformed JSON in the request body ({reason}); send a JSON object"
    if [error.get("loc") for error in errors] == [("body",)] and errors[0].get("type") in (
        "model_attributes_type",
        "dict_type",
    ):
        return 422, "the request body must be a JSON object (Content-Type: application/json)"
    parts = []
    for error in errors[:5]:
        where = ".".join(str(x) for x in error.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, "invalid request: " + "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    async def on_assistant_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AssistantError)
        headers = {"Retry-After": "5"} if isinstance(exc, StoreUnavailable) else None
        return error_response(exc.status_code, str(exc), headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        status, message = _validation_message(exc)
        return error_response(status, message)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs"
        return error_response(exc.status_code, message, dict(exc.headers or {}) or None)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s: %r", request.method, request.url.path, exc)
        return error_response(500, "internal error; the server log has the details")

    app.add_exception_handler(AssistantError, on_assistant_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
