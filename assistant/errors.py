"""One small family of user-facing errors; cli.py and api.py map them to exit/HTTP codes.

Every member is defined here. Each says its HTTP status (``status_code``); the CLI's exit
codes are the table ``assistant.cli.EXIT_CODES``. A test checks every member has both.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message is shown to the user as is, so it should say what to do next."""

    status_code = 400


class BadRequest(AssistantError):
    status_code = 400


class UploadTooLarge(BadRequest):
    status_code = 413


class UnsupportedUpload(BadRequest):
    status_code = 415


class NotFound(AssistantError):
    status_code = 404


class StoreUnavailable(AssistantError):
    """The vector store cannot be reached (e.g. the Chroma server is down)."""

    status_code = 503


class ConfigurationError(AssistantError):
    status_code = 500


class PromptInvalid(ConfigurationError):
    """A prompt file fails its checks, or the code fills it wrongly (``prompts.PromptError``)."""

    status_code = 500


class LLMUnavailable(AssistantError):
    """The language model could not be reached or failed to answer."""

    status_code = 503


class PromptTooLong(LLMUnavailable):
    """The prompt does not fit the model's context window."""

    status_code = 503


class UnsafeBuild(LLMUnavailable):
    """The installed llama-cpp-python was built with kernels known to crash (the answer falls
    back to the extractive one instead of the process dying)."""

    status_code = 503
