"""The application: the routers, error handlers and middleware over one service, and ``serve``."""

from __future__ import annotations

import logging
import mimetypes

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from assistant.api.errors import install_error_handlers
from assistant.api.guard import RequestGuard
from assistant.api.openai import openai_api
from assistant.api.routes import api, public, web_dir
from assistant.errors import ConfigurationError, StoreUnavailable
from assistant.logs import log_to_stderr
from assistant.service import Service
from assistant.settings import Settings
from assistant.uploads import MAX_FILES_PER_UPLOAD
from ingest.embedding import EmbeddingModelError

JSON_BODY_LIMIT = 4 * 1024 * 1024
log = logging.getLogger(__name__)

DESCRIPTION = """
Answers questions about your documents; every sentence of an answer cites a verbatim passage.

* `POST /api/ask` and `POST /api/chat` return the answer JSON (`answer` with `[n]` markers,
  `refused`, `citations`, `passages`). With `"stream": true` (or `Accept: text/event-stream`)
  `/api/chat` sends Server-Sent Events: `answer` events (`{"delta": text}`), then one
  `citations` event (`{"refused", "citations", "passages"}`), then `done` (the whole answer).
* `POST /v1/chat/completions` speaks the OpenAI chat-completions protocol, streaming or not.
  The answer keeps its `[n]` markers inline; the cited passages are in the extra top-level
  field `citations` (and `refused`, `passages`), on the response or on the last stream chunk.
* `documents` and `tags` (on `/api/ask` and `/api/chat`, and as extra body fields on
  `/v1/chat/completions`) limit the answer to those documents; the answer's `scope` says which
  it used. `GET /api/passage` shows a citation inside its paragraph.
* When `ASSISTANT_API_KEY` is set, every route except `/`, `/health`, the page's static files
  and these docs needs the key: `Authorization: Bearer KEY` or `X-API-Key: KEY`.
* Errors are JSON: `{"error": {"message", "type", "status"}}`.
"""


def create_app(service: Service) -> FastAPI:
    """The HTTP app over one service object (built by the caller, e.g. ``serve``)."""
    settings = service.settings
    app = FastAPI(
        title="Cited assistant",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(openai_api)
    app.include_router(public)
    # module scripts (the page's pdf.js) need a JavaScript type whatever the OS's mime table says
    mimetypes.add_type("text/javascript", ".mjs")
    mimetypes.add_type("text/javascript", ".js")
    app.mount("/static", StaticFiles(directory=web_dir()), name="static")
    upload_limit = settings.max_upload_bytes * MAX_FILES_PER_UPLOAD + 1024 * 1024
    app.add_middleware(
        RequestGuard,
        api_key=settings.api_key,
        upload_limit=upload_limit,
        body_limit=JSON_BODY_LIMIT,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    return app


def prepare(service: Service) -> None:
    """Start-up work for ``serve``: the sample corpus into an empty store, the model loaded."""
    try:
        service.ensure_documents()
    except StoreUnavailable as exc:
        log.warning("%s; /health reports 503 until it is reachable", exc)
    try:
        service.embedder.embed_query("warm up")
    except EmbeddingModelError as exc:  # `assistant serve` stops with a one-line error
        raise ConfigurationError(str(exc)) from None
    service.reader.warm_up()  # the reader loads now, not during the first question
    # the keyword index builds in the background if it is new (answers are dense-only until
    # then), and follows what other processes change in the store
    service.keyword.follow()


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the API and the chat page with uvicorn (``assistant serve``)."""
    import uvicorn

    log_to_stderr()
    service = Service(settings)
    prepare(service)
    uvicorn.run(
        create_app(service),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
