"""Choosing a backend is one setting; the default stays extractive and imports no LLM library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.generate import answer_events, sentence_pieces
from assistant.service import Service
from assistant.settings import Settings
from ingest.embedding import Embedder
from tests.conftest import make_settings
from tests.helpers import clean_env, run_cli

LLM_MODULES = ("langchain_openai", "langchain_ollama", "llama_cpp", "openai", "assistant.llm")


@pytest.mark.slow  # a subprocess
def test_default_settings_answer_extractively_without_loading_any_llm_library(
    sample_copy: Path, tmp_path: Path
) -> None:
    code = f"""
import json, sys
from assistant.service import Service
from assistant.settings import Settings
service = Service(Settings(_env_file=None, data_dir={str(sample_copy)!r}))
answer = service.ask("Who leads the White House Gender Policy Council?")
events = list(service.ask_stream("Who leads the White House Gender Policy Council?"))
print(json.dumps({{
    "backend": service.settings.llm_backend,
    "generator": service.generator is not None,
    "answer": answer.as_dict(),
    "streamed": "".join(e["text"] for e in events if e["type"] == "token"),
    "loaded": [m for m in {LLM_MODULES!r} if m in sys.modules],
}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(drop=("OPENAI_",)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backend"] == "extractive" and report["generator"] is False
    assert report["loaded"] == []
    assert not report["answer"]["refused"]
    assert report["streamed"] == report["answer"]["answer"]


def test_the_default_answer_is_the_extractive_answerers(sample_service: Service) -> None:
    question = "Who leads the White House Gender Policy Council?"
    assert sample_service.generator is None
    direct = sample_service.answerer.answer(question)
    assert sample_service.ask(question).as_dict() == direct.as_dict()


def test_extractive_answers_stream_sentence_by_sentence(sample_service: Service) -> None:
    question = "Which countries are partners of Women LEAD?"
    answer = sample_service.ask(question)
    events = list(sample_service.ask_stream(question))
    tokens = [e["text"] for e in events if e["type"] == "token"]
    assert len(tokens) == len(answer.citations) > 1
    assert all(t.rstrip().endswith("]") for t in tokens)
    assert "".join(tokens) == answer.answer
    assert events[-2] == {
        "type": "citations",
        "citations": [c.as_dict() for c in answer.citations],
        "passages": [],
    }
    assert events[-1]["type"] == "done" and events[-1]["refused"] is False


def test_a_refusal_streams_as_one_token_and_done(sample_service: Service) -> None:
    question = "How many hours of WPS training per year does the statute require for each member?"
    events = list(sample_service.ask_stream(question))
    assert [e["type"] for e in events] == ["token", "citations", "done"]
    assert events[-1]["refused"] is True
    assert events[1]["citations"] == [] and events[1]["passages"]


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("A. [1] B. [2]", ["A. [1] ", "B. [2]"]),
        ("A [1][2] B [3].", ["A [1][2] ", "B [3]."]),
        ("Intro:\n- a [1]\n- b [2]", ["Intro:\n- a [1]\n", "- b [2]"]),
        ("No markers.", ["No markers."]),
        ("", []),
    ],
)
def test_sentence_pieces_join_back_to_the_answer(text: str, pieces: list[str]) -> None:
    assert sentence_pieces(text) == pieces
    assert "".join(sentence_pieces(text)) == text


def test_answer_events_carry_the_whole_answer(sample_service: Service) -> None:
    answer = sample_service.ask("Who leads the White House Gender Policy Council?")
    done = list(answer_events(answer))[-1]
    assert done == {"type": "done", "refused": False, "answer": answer.as_dict()}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"llm_backend": "openai"}, "needs ASSISTANT_LLM_MODEL"),
        ({"llm_backend": "ollama"}, "needs ASSISTANT_LLM_MODEL"),
        ({"llm_backend": "gpt"}, "Input should be"),
        ({"llm_backend": "openai", "llm_model": "m", "llm_base_url": "ftp://x"}, "http://"),
        ({"llm_temperature": -1}, "greater than or equal"),
        ({"llm_min_supported": 2}, "less than or equal"),
    ],
)
def test_bad_llm_settings_fail_fast(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(tmp_path, **overrides)


def test_llm_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_LLM_BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_LLM_MODEL", "llama3.2")
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", "")
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert (settings.llm_backend, settings.llm_model) == ("ollama", "llama3.2")
    assert settings.llm_base_url == "http://127.0.0.1:1" and settings.llm_api_key is None


def test_the_ollama_backend_is_a_langchain_chat_ollama(
    sample_data_dir: Path, embedder: Embedder
) -> None:
    settings = make_settings(
        sample_data_dir, llm_backend="ollama", llm_model="llama3.2", llm_max_tokens=64
    )
    service = Service(settings, embedder=embedder)
    assert service.generator is not None
    model = service.generator.llm.model
    assert type(model).__name__ == "ChatOllama"
    assert model.base_url == "http://127.0.0.1:11434" and model.num_predict == 64  # type: ignore[attr-defined]
    assert service.health()["llm"] == {"backend": "ollama", "model": "llama3.2"}


def test_the_openai_backend_without_url_needs_a_key(
    sample_data_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.errors import ConfigurationError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = make_settings(sample_data_dir, llm_backend="openai", llm_model="gpt-4o-mini")
    with pytest.raises(ConfigurationError, match="ASSISTANT_LLM_API_KEY"):
        Service(settings, embedder=embedder)


def test_a_missing_gguf_file_is_a_clear_error(sample_data_dir: Path, embedder: Embedder) -> None:
    from assistant.errors import ConfigurationError

    settings = make_settings(
        sample_data_dir, llm_backend="llamacpp", llm_model=str(sample_data_dir / "no.gguf")
    )
    with pytest.raises(ConfigurationError, match="not a file"):
        Service(settings, embedder=embedder)


@pytest.mark.slow  # a subprocess
def test_cli_reports_bad_llm_settings_in_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "ask",
        "anything",
        data_dir=tmp_path / "data",
        cwd=tmp_path,
        timeout=120,
        ASSISTANT_LLM_BACKEND="openai",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid setting settings: Value error, ASSISTANT_LLM_BACKEND=openai needs "
        "ASSISTANT_LLM_MODEL (the model name) (check ASSISTANT_* variables)"
    ]
