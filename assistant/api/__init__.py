"""HTTP API and chat page: routes parse, call the service, render. Errors become statuses here.

Stateless: the conversation travels in each request and Chroma holds all durable state, so
several API processes can share one Chroma server (``ASSISTANT_CHROMA_URL``).

``schemas`` (request and response models), ``routes`` (questions, documents, health, page),
``openai`` (the chat-completions adapter), ``render`` (public answer JSON, SSE), ``errors``
(error JSON), ``guard`` (API key and body limits) and ``app`` (``create_app``, ``serve``).
"""

from assistant.api.app import create_app, prepare, serve
from assistant.api.errors import error_response
from assistant.api.guard import RequestGuard
from assistant.api.render import public_answer, stream_pieces

__all__ = [
    "RequestGuard",
    "create_app",
    "error_response",
    "prepare",
    "public_answer",
    "serve",
    "stream_pieces",
]
