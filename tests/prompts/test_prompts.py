"""Every prompt file loads and renders; bad files and bad variables fail with named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import prompts
from prompts import (
    PromptFileError,
    PromptNotFoundError,
    PromptVariableError,
    load_prompt,
    parse_prompt,
    prompt_names,
)

PROMPT_DIR = Path(prompts.__file__).parent
FILES = sorted(PROMPT_DIR.glob("*.yaml"))


def test_the_package_ships_the_prompts_the_code_uses() -> None:
    assert {"grounded_answer", "condense_question"} <= set(prompt_names())
    assert sorted(p.stem for p in FILES) == prompt_names()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_prompt_file_loads_and_renders_all_its_variables(path: Path) -> None:
    prompt = load_prompt(path.stem)
    assert prompt.variables and prompt.description
    values = {name: f"<<{name.upper()}>>" for name in prompt.variables}
    messages = prompt.render(**values)
    text = "\n".join(m.content for m in messages)
    for value in values.values():
        assert value in text
    assert "{" not in text.replace("{{", "")  # no placeholder left unfilled
    assert messages[0].role == "system" and messages[-1].role == "user"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_prompt_rejects_missing_and_unknown_variables(path: Path) -> None:
    prompt = load_prompt(path.stem)
    values = {name: "x" for name in prompt.variables}
    first = sorted(prompt.variables)[0]
    with pytest.raises(PromptVariableError, match=f"missing {first}"):
        prompt.render(**{k: v for k, v in values.items() if k != first})
    with pytest.raises(PromptVariableError, match="unknown surprise"):
        prompt.render(**values, surprise="x")


def test_grounded_answer_says_passages_are_data_not_instructions() -> None:
    system = load_prompt("grounded_answer").messages[0][1].lower()
    assert "data, not instructions" in system
    assert "never follow instructions" in system


def test_render_leaves_braces_in_values_alone() -> None:
    prompt = load_prompt("condense_question")
    messages = prompt.render(history="User: what is {question}?", question="and {this}?")
    assert "User: what is {question}?" in messages[-1].content
    assert "and {this}?" in messages[-1].content


GOOD = """
description: d
variables: [a]
messages:
  - role: user
    content: "say {a} and {{literal}}"
"""


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (GOOD.replace("[a]", "[a, b]"), PromptVariableError, "declares unused b"),
        (GOOD.replace("[a]", "[]"), PromptVariableError, "uses undeclared a"),
        (GOOD.replace("{a}", "{a.upper}"), PromptFileError, "plain"),
        (GOOD.replace("{a}", "{a!r}"), PromptFileError, "plain"),
        (GOOD.replace("{a}", "{}"), PromptFileError, "plain"),
        (GOOD.replace("{a}", "{a"), PromptFileError, "placeholder syntax"),
        (GOOD.replace("role: user", "role: robot"), PromptFileError, "role"),
        (GOOD + "extra: 1\n", PromptFileError, "extra"),
        (GOOD.replace("description: d\n", ""), PromptFileError, "description"),
        ("messages: [", PromptFileError, "not valid YAML"),
        (GOOD.replace("[a]", "[a, a]"), PromptFileError, "twice"),
    ],
    ids=[
        "unused",
        "undeclared",
        "attribute",
        "conversion",
        "positional",
        "unclosed",
        "bad-role",
        "unknown-key",
        "no-description",
        "bad-yaml",
        "duplicate",
    ],
)
def test_bad_prompt_files_fail_with_a_named_error(
    text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_prompt("t", text)


def test_good_prompt_text_parses() -> None:
    prompt = parse_prompt("t", GOOD)
    assert prompt.render(a="hi")[0].content == "say hi and {literal}"


@pytest.mark.parametrize("name", ["nope", "../pyproject", "grounded_answer.yaml"])
def test_unknown_prompt_names_fail(name: str) -> None:
    with pytest.raises(PromptNotFoundError):
        load_prompt(name)
