"""The routes of the API proper (questions, documents) and the public ones (health, page)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from assistant.api.deps import ServiceDep, documented_key
from assistant.api.render import chat_events, event_stream, public_answer
from assistant.api.schemas import (
    AnswerModel,
    AskRequest,
    ChatMessage,
    ChatRequest,
    DocumentList,
    DocumentModel,
    IngestResult,
    PassageModel,
    Removed,
    TagsUpdate,
)
from assistant.conversation import Message as Turn
from assistant.errors import BadRequest
from assistant.service import public_source
from assistant.uploads import MAX_FILES_PER_UPLOAD, Upload
from ingest.loaders import SUPPORTED_LIST
from ingest.store import DocRecord

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

api = APIRouter(dependencies=documented_key)
public = APIRouter()


def web_dir() -> Path:
    return Path(str(resources.files("assistant") / "web"))


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
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        events = service.ask_stream(last.content, _turns(history), k=body.k, scope=scope)
        return event_stream(chat_events(list(events)))
    return public_answer(service.ask(last.content, _turns(history), k=body.k, scope=scope))


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
        File(description=f"Up to {MAX_FILES_PER_UPLOAD} files of these types: {SUPPORTED_LIST}."),
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
