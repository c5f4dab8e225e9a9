"""HTTP API and chat page: routes parse, call the service, render. Errors become statuses here.

Stateless: the conversation travels in each request and Chroma holds all durable state, so
several API processes can share one Chroma server (``ASSISTANT_CHROMA_URL``).
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    Security,
    UploadFile,
)
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answer import Answer
from assistant.conversation import Message as Turn
from assistant.errors import AssistantError, BadRequest, ConfigurationError, StoreUnavailable
from assistant.service import Service, public_source
from assistant.settings import Settings
from assistant.uploads import MAX_FILES_PER_UPLOAD, Upload
from ingest.embedding import EmbeddingModelError
from ingest.store import DocRecord

MODEL_ID = "cited-assistant"
MAX_TEXT_CHARS = 20_000  # hard cap per message; the question limit is a setting
MAX_MESSAGES = 100
MAX_SCOPE = 500  # documents or tags named in one question
JSON_BODY_LIMIT = 4 * 1024 * 1024
PUBLIC_PATHS = frozenset({"/", "/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

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


# -- request and response models --------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"] = Field(description="Who said it.")
    content: str = Field(max_length=MAX_TEXT_CHARS, description="What was said.")


class ScopeFields(BaseModel):
    """Limits a question to documents (named, or with any of the tags); empty = all."""

    documents: list[str] = Field(
        default_factory=list,
        max_length=MAX_SCOPE,
        description="Answer only from these documents (ids from GET /api/documents).",
    )
    tags: list[str] = Field(
        default_factory=list,
        max_length=MAX_SCOPE,
        description="Answer only from documents with any of these tags.",
    )


class AskRequest(ScopeFields):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="The question to answer."
    )
    history: list[ChatMessage] = Field(
        default_factory=list,
        max_length=MAX_MESSAGES,
        description="The conversation so far, oldest first; used for follow-up questions.",
    )
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve.")


class ChatRequest(ScopeFields):
    model_config = ConfigDict(extra="forbid")
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description="The conversation, oldest first; the last message is the user's question.",
    )
    stream: bool = Field(default=False, description="Send Server-Sent Events instead of JSON.")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve.")


class CitationModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int = Field(description="The number used by the `[n]` marker in the answer.")
    doc_id: str = Field(description="Document id (its file name or path under the root).")
    title: str
    source: str = Field(description="Source URL, or the document's file name.")
    location: str = Field(description="Heading path or page of the passage.")
    quote: str = Field(description="The verbatim source text.")
    start: int = Field(description="Offset of the quote in the normalised document text.")
    end: int
    score: float


class ScopeModel(BaseModel):
    documents: list[str]
    tags: list[str]
    matched: list[str] = Field(description="The ids of the documents the scope stood for.")


class AnswerModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    answer: str = Field(description="The answer with `[n]` citation markers.")
    refused: bool = Field(description="True when the sources don't answer the question.")
    citations: list[CitationModel]
    passages: list[CitationModel] = Field(
        description="On a refusal: the closest passages, which do not answer the question."
    )
    question: str
    scope: ScopeModel | None = Field(
        default=None, description="The documents the answer was limited to, when it was."
    )


class DocumentModel(BaseModel):
    doc_id: str
    title: str
    source: str
    date: str = Field(description="Date from the document's metadata, when it has one.")
    chunks: int
    ingested_at: str = Field(description="When it was last (re-)ingested, ISO 8601 UTC.")
    tags: list[str] = Field(description="Its tags, for limiting questions to it.")
    language: str = Field(description="Detected language (ISO 639-1), '' when unknown.")


class TagsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: list[str] = Field(default_factory=list, max_length=MAX_SCOPE)
    remove: list[str] = Field(default_factory=list, max_length=MAX_SCOPE)
    tags: list[str] | None = Field(
        default=None, max_length=MAX_SCOPE, description="Replace all its tags with these."
    )


class PassageModel(BaseModel):
    doc_id: str
    title: str
    source: str
    location: str
    date: str
    text: str = Field(description="The paragraph(s) around the quote; begins at `start`.")
    start: int
    quote_start: int
    quote_end: int
    quote: str
    page: int | None = Field(description="For a PDF: the page the quote is on.")
    has_file: bool = Field(description="GET /api/original serves the document's file.")


class DocumentList(BaseModel):
    documents: list[DocumentModel]


class IngestResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    documents: list[str] = Field(description="Ids of the uploaded documents.")
    files: list[dict[str, str]] = Field(
        description="Per file: its `name`, the `doc_id` it is stored under, and `status` "
        "(added, updated: a re-upload of that name replaces it, or unchanged)."
    )
    added: int
    updated: int
    unchanged: int
    removed: int
    chunks: int
    failed: list[dict[str, str]]


class Removed(BaseModel):
    doc_id: str
    removed_chunks: int


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class CompletionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class CompletionRequest(BaseModel):
    """OpenAI chat-completions request; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default=MODEL_ID, max_length=200, description="Echoed back.")
    messages: list[CompletionMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None


# -- dependencies -----------------------------------------------------------------------------
def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
# These only describe the key in the OpenAPI document; RequestGuard enforces it.
_bearer_doc = HTTPBearer(auto_error=False, description="ASSISTANT_API_KEY as a bearer token.")
_key_doc = APIKeyHeader(name="X-API-Key", auto_error=False, description="ASSISTANT_API_KEY.")
_documented_key = [Security(_bearer_doc), Security(_key_doc)]

api = APIRouter(dependencies=_documented_key)
openai_api = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], dependencies=_documented_key)
public = APIRouter()


# -- routes -----------------------------------------------------------------------------------
@api.post("/api/ask", response_model=AnswerModel, tags=["questions"])
def ask(body: AskRequest, service: ServiceDep) -> Any:
    """Answer one question (with optional history) from the documents."""
    scope = service.scope(body.documents, body.tags)
    return public_answer(service.ask(body.question, _turns(body.history), k=body.k, scope=scope))


@api.post(
    "/api/chat",
    response_model=AnswerModel,
    tags=["questions"],
    responses={200: {"content": {"text/event-stream": {}}}},
)
def chat(body: ChatRequest, request: Request, service: ServiceDep) -> Any:
    """Answer the last user message of a conversation; JSON, or SSE when streaming."""
    *history, last = body.messages
    if last.role != "user":
        raise BadRequest("the last message must be the user's question (role 'user')")
    scope = service.scope(body.documents, body.tags)
    answer = service.ask(last.content, _turns(history), k=body.k, scope=scope)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return _event_stream(_chat_events(answer))
    return public_answer(answer)


@api.get("/api/documents", response_model=DocumentList, tags=["documents"])
def list_documents(
    service: ServiceDep,
    tag: Annotated[str | None, Query(description="Only documents with this tag.")] = None,
) -> Any:
    """The ingested documents, with their tags."""
    return {"documents": [_document(record) for record in service.sources(tag)]}


@api.post("/api/documents", response_model=IngestResult, tags=["documents"])
def upload_documents(
    files: Annotated[
        list[UploadFile],
        File(description=f"Up to {MAX_FILES_PER_UPLOAD} files: txt, md, html, pdf or docx."),
    ],
    service: ServiceDep,
    tags: Annotated[
        list[str] | None,
        Form(description="Tags for every uploaded file (repeat the field, or comma-separate)."),
    ] = None,
) -> Any:
    """Add or update documents; a file with the name of an existing upload replaces it."""
    limit = service.settings.max_upload_bytes
    wanted = [t for field in tags or [] for t in field.split(",") if t.strip()]
    uploads = [Upload(f.filename or "", f.file.read(limit + 1)) for f in files]
    report = service.ingest_uploads(uploads, tags=wanted)
    stored = [
        {"name": d["path"], "doc_id": d["doc_id"], "status": d["status"]} for d in report.documents
    ]
    return {**report.as_dict(), "documents": [f["doc_id"] for f in stored], "files": stored}


@api.get("/api/passage", response_model=PassageModel, tags=["documents"])
def passage(
    service: ServiceDep,
    doc_id: Annotated[str, Query(min_length=1, description="The document's id.")],
    start: Annotated[int, Query(ge=0, description="Offset of the quote's first character.")],
    end: Annotated[int, Query(ge=1, description="Offset just after the quote.")],
) -> Any:
    """A citation in its context: the paragraph(s) of the document around the quote."""
    return service.passage(doc_id, start, end).as_dict()


@api.get(
    "/api/original",
    tags=["documents"],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def original(
    service: ServiceDep,
    doc_id: Annotated[str, Query(min_length=1, description="The document's id.")],
) -> FileResponse:
    """The file the document was ingested from (e.g. the PDF, to open at a cited page)."""
    path, name = service.original_file(doc_id)
    media = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    return FileResponse(
        path, media_type=media, filename=name, content_disposition_type="inline", headers=headers
    )


_MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".html": "text/plain; charset=utf-8",  # shown as text: never run a stored page's scripts
    ".htm": "text/plain; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@api.patch("/api/documents/{doc_id:path}", response_model=DocumentModel, tags=["documents"])
def update_document(doc_id: str, body: TagsUpdate, service: ServiceDep) -> Any:
    """Change a document's tags: `add` and `remove` some, or replace them all (`tags`)."""
    record = service.set_tags(doc_id, add=body.add, remove=body.remove, replace=body.tags)
    return _document(record)


@api.delete("/api/documents/{doc_id:path}", response_model=Removed, tags=["documents"])
def delete_document(doc_id: str, service: ServiceDep) -> Any:
    """Remove a document and its passages."""
    return {"doc_id": doc_id, "removed_chunks": service.delete_document(doc_id)}


@openai_api.post("/chat/completions")
def chat_completions(body: CompletionRequest, service: ServiceDep) -> Any:
    """OpenAI-compatible chat completion; citations in the extra field `citations`."""
    question, history = _openai_conversation(body.messages)
    extra = body.model_extra or {}
    scope = service.scope(_names(extra, "documents"), _names(extra, "tags"))
    answer = service.ask(question, history, scope=scope)
    reply = _Completion(body.model, answer, service.embedder.count_tokens)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return _event_stream(reply.chunks(include_usage), done_marker=True)
    return reply.response()


@openai_api.get("/models")
def list_models() -> Any:
    """The one model this server offers (for clients that list models first)."""
    model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "cited-assistant"}
    return {"object": "list", "data": [model]}


@public.get("/health", tags=["health"])
def health(service: ServiceDep) -> JSONResponse:
    """Store and model readiness; 503 when the store cannot be reached."""
    status = service.health()
    return JSONResponse(status, status_code=200 if status["ok"] else 503)


@public.get("/", include_in_schema=False)
def page() -> FileResponse:
    headers = {"Content-Security-Policy": PAGE_POLICY, "X-Content-Type-Options": "nosniff"}
    return FileResponse(web_dir() / "index.html", headers=headers)


# -- rendering --------------------------------------------------------------------------------
def _turns(messages: Sequence[ChatMessage]) -> list[Turn]:
    return [Turn(m.role, m.content) for m in messages]


def _document(record: DocRecord) -> dict[str, Any]:
    when = datetime.fromtimestamp(record.ingested_at, tz=UTC).isoformat(timespec="seconds")
    return {
        "doc_id": record.doc_id,
        "title": record.title,
        "source": public_source(record.source, record.doc_id),
        "date": record.date,
        "chunks": record.chunks,
        "ingested_at": when.replace("+00:00", "Z"),
        "tags": record.tag_list,
        "language": record.language,
    }


def public_answer(answer: Answer) -> dict[str, Any]:
    """The answer JSON for HTTP clients: sources are URLs or document names, never paths on
    the server."""
    data = answer.as_dict()
    for citation in [*data["citations"], *data["passages"]]:
        citation["source"] = public_source(citation["source"], citation["doc_id"])
    return data


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


_PIECE = re.compile(r".*?(?:\[\d+\]\s*|[.!?]\s+(?=[\"“‘(]?[A-Z0-9])|$)", re.DOTALL)


def stream_pieces(text: str) -> list[str]:
    """Split an answer after each citation marker or sentence end; the pieces join to it."""
    return [m.group(0) for m in _PIECE.finditer(text) if m.group(0)]


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _event_stream(events: Iterator[str], done_marker: bool = False) -> StreamingResponse:
    def body() -> Iterator[str]:
        yield from events
        if done_marker:
            yield "data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def _chat_events(answer: Answer) -> Iterator[str]:
    data = public_answer(answer)
    for piece in stream_pieces(answer.answer):
        yield _sse({"delta": piece}, "answer")
    extra = {key: data[key] for key in ("refused", "citations", "passages")}
    yield _sse(extra, "citations")
    yield _sse(data, "done")


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
    """One answer rendered in the OpenAI chat-completions shapes."""

    def __init__(self, model: str, answer: Answer, count: Callable[[str], int]):
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.count = count
        self.created = int(time.time())
        self.model = model
        self.answer = answer
        data = public_answer(answer)
        self.extra = {key: data[key] for key in ("citations", "refused", "passages")}

    def _usage(self) -> dict[str, int]:
        # counted by the embedding model's WordPiece tokenizer, the one model that read them
        prompt = self.count(self.answer.question)
        completion = self.count(self.answer.answer)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def response(self) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": self.answer.answer, "refusal": None},
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
        return _sse(chunk)

    def chunks(self, include_usage: bool) -> Iterator[str]:
        yield self._chunk({"role": "assistant", "content": ""}, None)
        for piece in stream_pieces(self.answer.answer):
            yield self._chunk({"content": piece}, None)
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
            yield _sse(usage)


# -- errors -----------------------------------------------------------------------------------
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


def _install_error_handlers(app: FastAPI) -> None:
    async def on_assistant_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 400)
        headers = {"Retry-After": "5"} if isinstance(exc, StoreUnavailable) else None
        return error_response(status, str(exc), headers)

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
        print(f"error: {request.method} {request.url.path}: {exc!r}", file=sys.stderr)
        return error_response(500, "internal error; the server log has the details")

    app.add_exception_handler(AssistantError, on_assistant_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


# -- middleware: the API key and body size limits, checked before anything is parsed --------
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


# -- application ------------------------------------------------------------------------------
def web_dir() -> Path:
    return Path(str(resources.files("assistant") / "web"))


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
    _install_error_handlers(app)
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
        if service.is_empty():
            print("The store is empty: ingesting the bundled sample corpus...", file=sys.stderr)
            report = service.ingest_sample()
            print(
                f"Ingested {report.added} sample documents ({report.chunks} chunks).",
                file=sys.stderr,
            )
    except StoreUnavailable as exc:
        print(f"warning: {exc}; /health reports 503 until it is reachable", file=sys.stderr)
    try:
        service.embedder.embed_query("warm up")
    except EmbeddingModelError as exc:  # `assistant serve` stops with a one-line error
        raise ConfigurationError(str(exc)) from None
    service.reader.warm_up()  # the reader loads now, not during the first question


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the API and the chat page with uvicorn (``assistant serve``)."""
    import uvicorn

    service = Service(settings)
    prepare(service)
    uvicorn.run(
        create_app(service),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
