"""LangChain-native parts: the hybrid retriever as a ``BaseRetriever`` and the verified
answerer as a ``Runnable``, so either can sit in an LCEL chain::

    from assistant.langchain import CitedAnswerer, HybridRetriever
    docs = HybridRetriever.from_settings(k=4).invoke("Who leads the Gender Policy Council?")
    chain = RunnableLambda(lambda q: {"question": q, "tags": ["law"]}) | CitedAnswerer()

Both use the same service (store, model, settings) as the CLI and the HTTP API; a scope
(``documents``, ``tags``) limits them exactly as it does there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict, Field

from assistant.conversation import Message
from assistant.errors import BadRequest
from assistant.retrieval import Hit
from assistant.service import Service
from assistant.settings import Settings

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}


def _service(service: Service | None) -> Service:
    return service if service is not None else Service(Settings())


def hit_document(hit: Hit) -> Document:
    """A retrieved passage as a LangChain ``Document`` with its citation metadata."""
    chunk = hit.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "doc_id": chunk.doc_id,
            "title": chunk.title,
            "source": chunk.source,
            "location": chunk.location,
            "start": chunk.start,
            "end": chunk.end,
            "score": round(hit.score, 4),
        },
    )


class HybridRetriever(BaseRetriever):
    """The project's hybrid (dense + BM25) retrieval as a LangChain retriever."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    service: Service
    k: int = Field(default=6, ge=1, le=50)
    documents: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **fields: Any) -> HybridRetriever:
        """A retriever over the configured store (``ASSISTANT_*`` settings by default)."""
        return cls(service=Service(settings or Settings()), **fields)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        scope = self.service.scope(self.documents, self.tags)
        return [hit_document(h) for h in self.service.retrieve(query, k=self.k, scope=scope)]


class CitedAnswerer(Runnable[Any, dict[str, Any]]):
    """Question in, the verified answer JSON out (the same as ``POST /api/ask`` returns).

    The input is a question string, a list of chat messages (LangChain messages, ``(role,
    text)`` pairs or ``{"role", "content"}`` dicts; the last is the question), or a mapping
    with ``question`` and optionally ``history``, ``documents`` and ``tags``."""

    def __init__(
        self,
        service: Service | None = None,
        *,
        documents: Sequence[str] = (),
        tags: Sequence[str] = (),
    ):
        self.service = _service(service)
        self.documents = list(documents)
        self.tags = list(tags)

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        question, history, documents, tags = self._parse(input)
        scope = self.service.scope(documents, tags)
        return self.service.ask(question, history, scope=scope).as_dict()

    def _parse(self, value: Any) -> tuple[str, list[Message], list[str], list[str]]:
        documents, tags = self.documents, self.tags
        if isinstance(value, Mapping) and "question" in value:
            history = _messages(value.get("history") or [])
            documents = list(value.get("documents") or documents)
            tags = list(value.get("tags") or tags)
            return str(value["question"]), history, documents, tags
        if isinstance(value, str):
            return value, [], documents, tags
        if isinstance(value, Sequence):
            messages = _messages(value)
            if not messages or messages[-1].role != "user":
                raise BadRequest("the last message must be the user's question")
            return messages[-1].content, messages[:-1], documents, tags
        raise BadRequest(
            "give a question string, a list of messages, or {'question': ..., 'history': ...}"
        )


def _messages(items: Sequence[Any]) -> list[Message]:
    """Chat messages in any of LangChain's usual shapes; system messages are dropped."""
    result = []
    for item in items:
        if isinstance(item, BaseMessage):
            role, content = item.type, item.text
        elif isinstance(item, Mapping):
            role, content = str(item.get("role", "")), item.get("content", "")
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            role, content = str(item[0]), item[1]
        else:
            raise BadRequest(f"not a chat message: {item!r}")
        if role in ("system", "developer"):
            continue
        if role not in _ROLES or not isinstance(content, str):
            raise BadRequest(f"a message needs a role (user or assistant) and text: {item!r}")
        result.append(Message(_ROLES[role], content))  # type: ignore[arg-type]
    return result
