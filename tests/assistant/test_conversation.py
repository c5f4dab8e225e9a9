"""Follow-ups without an LLM: which questions lean on earlier ones, the context they carry, how
far back it reaches, and conversations saved and loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.conversation import (
    FOLLOWUP_LOOKBACK_TURNS,
    Message,
    followup_context,
    is_followup,
    load_conversation,
    save_conversation,
)
from assistant.errors import BadRequest

COUNCIL = "Who leads the White House Gender Policy Council?"
BUDGET = "How large is the budget of the Gender Policy Council?"


@pytest.mark.parametrize(
    "question,expected",
    [
        (COUNCIL, False),
        ("Which Senate committees oversee the national strategy?", False),
        ("What is its budget?", True),  # a pronoun points back
        ("And the Senate committees, do they report yearly?", True),  # starts as a continuation
        ("What about the Treasury sanctions?", True),
        ("Since when?", True),  # three words or fewer
    ],
)
def test_is_followup(question: str, expected: bool) -> None:
    assert is_followup(question) is expected


def turn(question: str, answer: str = "An answer. [1]") -> list[Message]:
    return [Message("user", question), Message("assistant", answer)]


def test_a_standalone_question_carries_no_context() -> None:
    assert followup_context(BUDGET, turn(COUNCIL)) == ""
    assert followup_context("What is its budget?", []) == ""


def test_a_followup_carries_the_previous_question_not_the_answer() -> None:
    history = turn(COUNCIL, "Jennifer Klein leads it. [1]")
    assert followup_context("What is its budget?", history) == COUNCIL


def test_a_chain_of_followups_reaches_back_to_the_question_that_started_it() -> None:
    history = [*turn(BUDGET), *turn(COUNCIL), *turn("And its staff?")]
    # BUDGET is standalone and so is COUNCIL: the chain starts at COUNCIL
    assert followup_context("Since when?", history) == f"{COUNCIL} And its staff?"


def test_context_reaches_back_at_most_max_history_turns() -> None:
    followups = [f"And its office number {i}?" for i in range(FOLLOWUP_LOOKBACK_TURNS)]
    history = turn(COUNCIL) + [m for q in followups for m in turn(q)]
    context = followup_context("And then?", history)
    # every turn is a follow-up, but the first question is more turns back than are kept
    assert context == " ".join(followups)
    assert COUNCIL not in context
    assert followup_context("And then?", history[2:]) == context  # dropping it changes nothing
    assert followup_context("And then?", history[4:]).startswith(followups[1])


def test_a_conversation_saves_and_loads_with_its_scope(tmp_path: Path) -> None:
    path = tmp_path / "talk.json"
    history = [*turn("¿Qué dice la Convención de Belém do Pará?"), Message("system", "note")]
    save_conversation(path, history, {"documents": ["belem.md"], "tags": ["law"]})
    assert load_conversation(path) == (history, {"documents": ["belem.md"], "tags": ["law"]})
    assert "Belém" in path.read_text(encoding="utf-8")  # readable, not \u-escaped
    assert [p.name for p in tmp_path.iterdir()] == ["talk.json"]  # no temporary file left
    save_conversation(path, history[:2])  # saving again replaces it; no scope is an empty one
    assert load_conversation(path) == (history[:2], {"documents": [], "tags": []})


def test_a_saved_scope_keeps_only_strings(tmp_path: Path) -> None:
    path = tmp_path / "talk.json"
    path.write_text(json.dumps({"messages": [], "scope": {"documents": ["a.md", 3], "tags": None}}))
    assert load_conversation(path) == ([], {"documents": ["a.md"], "tags": []})


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "no conversation file at"),
        ("{not json", "cannot read the conversation"),
        (b"\xff\xfe\x00", "cannot read the conversation"),
        ('["user", "hi"]', "is not a conversation saved with `assistant chat --save`"),
        ('{"messages": {"role": "user"}}', "is not a conversation saved with"),
        ('{"messages": [{"role": "bot", "content": "hi"}]}', "every message needs a role"),
        ('{"messages": [{"role": "user", "content": 1}]}', "every message needs a role"),
    ],
    ids=[
        "missing",
        "bad-json",
        "not-utf8",
        "a-list",
        "messages-not-a-list",
        "bad-role",
        "bad-content",
    ],
)
def test_a_bad_conversation_file_is_a_bad_request(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "talk.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(BadRequest, match=message):
        load_conversation(path)
