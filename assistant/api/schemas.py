"""Request and response models of the HTTP API, with the limits they enforce."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MODEL_ID = "cited-assistant"
MAX_TEXT_CHARS = 20_000  # hard cap per message; the question limit is a setting
MAX_MESSAGES = 100
MAX_SCOPE = 500  # documents or tags named in one question


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
