"""Prompt templates kept as data files, and the loader that checks their variables.

Each ``*.yaml`` file in this folder is one prompt: a description, the list of variables it
takes, and chat messages whose text uses ``{name}`` placeholders (``{{`` and ``}}`` for a
literal brace). A file whose placeholders differ from its declared variables fails to load, and
rendering with a variable missing or unknown fails, both with :class:`PromptVariableError`, so a
typo in a template or in the code that fills it is caught at once instead of reaching a model.
"""

from __future__ import annotations

import string
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "Prompt",
    "PromptError",
    "PromptFileError",
    "PromptNotFoundError",
    "PromptVariableError",
    "RenderedMessage",
    "load_prompt",
    "prompt_names",
]

Role = Literal["system", "user", "assistant"]


class PromptError(Exception):
    """Base class of the prompt loader's errors."""


class PromptNotFoundError(PromptError):
    """No prompt file has the requested name."""


class PromptFileError(PromptError):
    """A prompt file is not valid YAML or does not follow the prompt schema."""


class PromptVariableError(PromptError):
    """Variables are missing, unknown, or differ between a template and its declaration."""


def _check_variables(name: str, **problems: Collection[str]) -> None:
    """Raise PromptVariableError naming each kind of problem found (kind: its variables)."""
    found = [f"{kind} {', '.join(sorted(names))}" for kind, names in problems.items() if names]
    if found:
        raise PromptVariableError(f"prompt {name!r}: {'; '.join(found)}")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str = Field(min_length=1)


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1)
    variables: list[str]
    messages: list[_Message] = Field(min_length=1)


@dataclass(frozen=True)
class RenderedMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Prompt:
    name: str
    description: str
    variables: frozenset[str]
    messages: tuple[tuple[Role, str], ...]

    def render(self, **values: object) -> list[RenderedMessage]:
        """The messages with every placeholder filled; all declared variables are required."""
        _check_variables(
            self.name,
            missing=self.variables - values.keys(),
            unknown=values.keys() - self.variables,
        )
        text = {name: str(value) for name, value in values.items()}
        return [
            RenderedMessage(role, template.format_map(text)) for role, template in self.messages
        ]


def prompt_names() -> list[str]:
    """Names of all prompt files shipped in this package."""
    folder = resources.files(__name__)
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_prompt(name: str) -> Prompt:
    """Load and check one prompt file by name (without ``.yaml``)."""
    entry = resources.files(__name__) / f"{name}.yaml"
    if not name.isidentifier() or not entry.is_file():
        raise PromptNotFoundError(f"no prompt named {name!r}; available: {prompt_names()}")
    return parse_prompt(name, entry.read_text(encoding="utf-8"))


def parse_prompt(name: str, text: str) -> Prompt:
    """Check a prompt file's text: schema, placeholder syntax, declared == used variables."""
    try:
        data = _PromptFile.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise PromptFileError(f"prompt {name!r} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "file"
        raise PromptFileError(f"prompt {name!r}: {where}: {first['msg']}") from None
    declared = set(data.variables)
    if len(declared) != len(data.variables):
        raise PromptFileError(f"prompt {name!r} declares a variable twice")
    used: set[str] = set()
    for message in data.messages:
        used |= _placeholders(name, message.content)
    _check_variables(
        name, **{"uses undeclared": used - declared, "declares unused": declared - used}
    )
    return Prompt(
        name,
        data.description,
        frozenset(declared),
        tuple((m.role, m.content) for m in data.messages),
    )


def _placeholders(name: str, template: str) -> set[str]:
    """Plain ``{name}`` fields only: no positional, attribute, index, format or conversion."""
    fields: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PromptFileError(f"prompt {name!r}: bad placeholder syntax ({exc})") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            shown = (
                "{"
                + field
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise PromptFileError(
                f"prompt {name!r}: placeholder {shown} must be a plain {{name}}"
                " (write {{ and }} for literal braces)"
            )
        fields.add(field)
    return fields
