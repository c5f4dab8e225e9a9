"""One small family of user-facing errors; cli.py and api.py map them to exit/HTTP codes."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message is shown to the user as is, so it should say what to do next."""

    status_code = 400


class BadRequest(AssistantError):
    status_code = 400


class NotFound(AssistantError):
    status_code = 404


class StoreUnavailable(AssistantError):
    """The vector store cannot be reached (e.g. the Chroma server is down)."""

    status_code = 503


class ConfigurationError(AssistantError):
    status_code = 500
