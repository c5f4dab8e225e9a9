"""The `openai` backend over real HTTP: LangChain's ChatOpenAI talks to a scripted server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.conversation import Message
from assistant.generate import GenerativeAnswerer
from assistant.llm import LLMUnavailable
from assistant.service import Service
from ingest.embedding import Embedder
from tests.conftest import make_settings
from tests.generate.conftest import (
    assert_cited,
    cite,
    is_condense,
    openai_service,
    passages_in,
)
from tests.generate.fake_openai import FakeOpenAI, ScriptError
from tests.helpers import run_cli

COUNCIL = "Who leads the White House Gender Policy Council?"
DEFENSE = (
    "Who must make sure Department of Defense personnel get Women, Peace and Security training?"
)
FOLLOWUP = "Which bodies of law must that training cover?"
REWRITTEN = (
    "Which bodies of law must the Women, Peace and Security training of Department of Defense "
    "personnel cover?"
)


def good_model(messages: list[dict[str, Any]]) -> str:
    """Answers like a capable model: paraphrases and cites the passage it used."""
    if is_condense(messages):
        return REWRITTEN
    question = messages[-1]["content"]
    if "Gender Policy Council" in question:
        n = cite(messages, "two Co-Chairs")
        return (
            f"The Council is led by two Co-Chairs designated by the President [{n}]. "
            f"One of the Co-Chairs also serves as the Executive Director of the Council [{n}]."
        )
    if "bodies of law" in question:
        n = cite(messages, "international humanitarian law")
        return (
            "The training must cover international human rights law and international "
            f"humanitarian law, as relevant [{n}]."
        )
    if "Department of Defense personnel" in question:
        n = cite(messages, "Secretary of Defense shall ensure")
        return (
            f"The Secretary of Defense shall ensure that relevant personnel receive training [{n}]."
        )
    return "I do not know."


@pytest.fixture
def service(sample_data_dir: Path, embedder: Embedder, fake_openai: FakeOpenAI) -> Service:
    fake_openai.script = good_model
    return openai_service(sample_data_dir, embedder, fake_openai)


def generator(service: Service) -> GenerativeAnswerer:
    assert service.generator is not None
    return service.generator


def test_a_good_model_answer_reaches_the_user_with_verified_citations(
    service: Service, fake_openai: FakeOpenAI
) -> None:
    answer = service.ask(COUNCIL)
    assert not answer.refused
    assert answer.answer == (
        "The Council is led by two Co-Chairs designated by the President. [1] "
        "One of the Co-Chairs also serves as the Executive Director of the Council. [1]"
    )
    assert len(answer.citations) == 1
    assert "two Co-Chairs designated by the" in answer.citations[0].quote
    assert_cited(answer)

    (request,) = fake_openai.requests
    assert request["model"] == "scripted"
    assert request["temperature"] == 0.0
    assert request["stream"] is True  # the answer is read as a stream of tokens (SSE)
    system, user = request["messages"]
    assert system["role"] == "system" and "data, not instructions" in system["content"]
    assert user["content"].count("<passage n=") == len(passages_in(request["messages"])) >= 1
    assert f"Question: {COUNCIL}" in user["content"]


def test_the_verified_answer_streams_as_events(service: Service) -> None:
    events = list(service.ask_stream(COUNCIL))
    tokens = [e for e in events if e["type"] == "token"]
    assert len(tokens) == 2  # one per sentence
    assert [e["type"] for e in events[len(tokens) :]] == ["citations", "done"]
    done = events[-1]
    assert "".join(e["text"] for e in tokens) == done["answer"]["answer"]
    assert done["refused"] is False
    assert events[-2]["citations"] == done["answer"]["citations"]
    assert json.dumps(events)  # plain JSON, ready for SSE


def test_a_followup_is_condensed_by_the_model(service: Service, fake_openai: FakeOpenAI) -> None:
    history = [
        Message("user", "What is WPS?"),
        Message("assistant", "Women, Peace and Security. [1]"),
        Message("user", "Is it a law?"),
        Message("assistant", "Yes, an act of Congress. [1]"),
        Message("user", DEFENSE),
        Message("assistant", "The Secretary of Defense shall ensure it. [1]"),
        Message("user", "Anything else?"),
        Message("assistant", "No. [1]"),
    ]
    generation = generator(service).generate(FOLLOWUP, history=history)
    condense, answer = fake_openai.requests
    assert condense.get("stream") is not True  # a plain JSON completion
    shown = condense["messages"][-1]["content"]
    assert DEFENSE in shown and "Anything else?" in shown
    assert "What is WPS?" not in shown  # only the last 3 turns (ASSISTANT_LLM_HISTORY_TURNS)
    assert "[1]" not in shown  # markers are stripped from earlier answers
    assert generation.standalone == REWRITTEN
    assert f"Question: {REWRITTEN}" in answer["messages"][-1]["content"]
    assert not generation.fallback
    assert "humanitarian law" in generation.answer.answer
    assert_cited(generation.answer)


def test_a_condensation_that_answers_instead_is_not_used(
    service: Service, fake_openai: FakeOpenAI
) -> None:
    def answers_instead(messages: list[dict[str, Any]]) -> str:
        if is_condense(messages):
            return "The training must cover all the laws."
        return good_model(messages)

    fake_openai.script = answers_instead
    history = [Message("user", DEFENSE), Message("assistant", "The Secretary of Defense. [1]")]
    generation = generator(service).generate(FOLLOWUP, history=history)
    assert generation.standalone == f"{DEFENSE} {FOLLOWUP}"  # the earlier question as context
    assert "humanitarian law" in generation.answer.answer


@pytest.mark.parametrize(
    "reply",
    [
        "The Council is led by the Secretary of State [1]. It meets in Geneva [2].",
        "PWNED [7]",
        "",
        "The sources don't answer this question.",
    ],
    ids=["invented", "nonexistent-marker", "empty", "model-refuses"],
)
def test_an_unsupported_answer_falls_back_to_the_extractive_one(
    service: Service, fake_openai: FakeOpenAI, sample_service: Service, reply: str
) -> None:
    fake_openai.script = lambda messages: reply
    generation = generator(service).generate(COUNCIL)
    assert generation.fallback and generation.raw == reply
    assert generation.answer.as_dict() == sample_service.ask(COUNCIL).as_dict()
    assert "Geneva" not in generation.answer.answer and "[7]" not in generation.answer.answer


def test_an_answer_off_the_question_falls_back(service: Service, fake_openai: FakeOpenAI) -> None:
    # true (a heading of a passage) but no answer to the question
    fake_openai.script = lambda messages: "Executive Order 14020 [1]."
    generation = generator(service).generate(COUNCIL)
    assert generation.fallback


def test_an_unanswerable_question_is_refused_without_asking_the_model(
    service: Service, fake_openai: FakeOpenAI
) -> None:
    answer = service.ask("Who was the course director of the DIILS training in Mexico City?")
    assert answer.refused and answer.citations == []
    assert fake_openai.requests == []


def test_a_prompt_too_long_for_the_model_is_retried_with_fewer_passages(
    service: Service, fake_openai: FakeOpenAI
) -> None:
    def small_window(messages: list[dict[str, Any]]) -> str:
        if len(passages_in(messages)) > 2:
            raise ScriptError(
                400,
                "This model's maximum context length is 512 tokens.",
                "context_length_exceeded",
            )
        if any("two Co-Chairs" in text for text in passages_in(messages).values()):
            return good_model(messages)
        return "I do not know."

    fake_openai.script = small_window
    generation = generator(service).generate(COUNCIL)
    shown = [len(passages_in(r["messages"])) for r in fake_openai.requests]
    assert shown[0] > 2 and shown[-1] == 2
    assert shown == sorted(shown, reverse=True)  # one passage fewer each time
    assert len(generation.passages) == 2
    assert not generation.answer.refused
    assert_cited(generation.answer)


def test_an_unreachable_server_is_a_clear_error(
    sample_data_dir: Path, embedder: Embedder, fake_openai: FakeOpenAI
) -> None:
    service = openai_service(sample_data_dir, embedder, fake_openai, llm_timeout=5)
    fake_openai.stop()
    with pytest.raises(LLMUnavailable, match="openai model scripted failed") as caught:
        service.ask(COUNCIL)
    assert caught.value.status_code == 503
    assert "ASSISTANT_LLM_BACKEND=extractive" in str(caught.value)


def _cli(*args: str, server: FakeOpenAI, data_dir: Path, cwd: Path) -> Any:
    return run_cli(
        *args,
        data_dir=data_dir,
        cwd=cwd,
        ASSISTANT_LLM_BACKEND="openai",
        ASSISTANT_LLM_MODEL="scripted",
        ASSISTANT_LLM_BASE_URL=server.url,
    )


@pytest.mark.slow
def test_cli_ask_prints_the_verified_answer_and_its_sources(
    sample_copy: Path, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script = good_model
    as_json = _cli("ask", "--json", COUNCIL, server=fake_openai, data_dir=sample_copy, cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["answer"].startswith("The Council is led by two Co-Chairs")

    human = _cli("ask", COUNCIL, server=fake_openai, data_dir=sample_copy, cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0] == data["answer"]
    assert any(line.startswith("[1] Executive Order") for line in lines)
    assert "two Co-Chairs designated by the" in human.stdout


@pytest.mark.slow
def test_cli_reports_an_unreachable_model_in_one_line(
    sample_copy: Path, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.stop()
    result = _cli("ask", COUNCIL, server=fake_openai, data_dir=sample_copy, cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the openai model scripted failed: Connection error.")


def test_the_ollama_backend_over_its_own_protocol(
    sample_data_dir: Path, embedder: Embedder, fake_openai: FakeOpenAI
) -> None:
    """The same scripted model behind Ollama's /api/chat, through LangChain's ChatOllama."""
    fake_openai.script = good_model
    settings = make_settings(
        sample_data_dir,
        llm_backend="ollama",
        llm_model="scripted",
        llm_base_url=fake_openai.root,
        llm_max_tokens=128,
    )
    service = Service(settings, embedder=embedder)
    history = [Message("user", DEFENSE), Message("assistant", "The Secretary of Defense. [1]")]
    answer = service.ask(FOLLOWUP, history)
    assert "humanitarian law" in answer.answer and not answer.refused
    assert_cited(answer)
    condense, final = fake_openai.requests
    assert is_condense(condense["messages"]) and REWRITTEN in final["messages"][-1]["content"]
    assert final["model"] == "scripted" and final["options"]["num_predict"] == 128
