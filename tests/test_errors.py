"""The error family: every member lives in assistant/errors.py and maps to an exit code (CLI)
and an HTTP status (API), each decided once."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import assistant
from assistant import errors
from assistant.api.errors import install_error_handlers
from assistant.cli import EXIT_CODES, exit_code
from assistant.errors import AssistantError, PromptInvalid
from assistant.generate import _prompt_errors
from prompts import load_prompt


def family() -> list[type[AssistantError]]:
    """AssistantError and all its subclasses, with every assistant module imported."""
    for module in pkgutil.walk_packages(assistant.__path__, "assistant."):
        importlib.import_module(module.name)
    found, todo = [], [AssistantError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return sorted(found, key=lambda cls: cls.__name__)


MEMBERS = family()


def test_every_member_is_defined_in_the_errors_module() -> None:
    assert {cls.__module__ for cls in MEMBERS} == {"assistant.errors"}
    assert len(MEMBERS) > 5


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda cls: cls.__name__)
def test_every_member_has_its_own_exit_code_and_status(cls: type[AssistantError]) -> None:
    assert cls in EXIT_CODES and EXIT_CODES[cls] != 0
    assert "status_code" in vars(cls), f"{cls.__name__} inherits its status: decide it"
    assert 400 <= cls.status_code < 600


def test_the_exit_code_table_lists_only_members() -> None:
    assert set(EXIT_CODES) == set(MEMBERS)


class Surprise(errors.NotFound):
    """Not in the table: the nearest listed base class decides."""


def test_an_unlisted_subclass_takes_its_base_class_codes() -> None:
    assert exit_code(Surprise("x")) == EXIT_CODES[errors.NotFound]


def test_each_member_becomes_its_status_as_json() -> None:
    app = FastAPI()
    install_error_handlers(app)
    by_name = {cls.__name__: cls for cls in MEMBERS}

    @app.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise by_name[name](f"{name} happened; do this next")

    with TestClient(app) as client:
        for name, cls in by_name.items():
            response = client.get(f"/raise/{name}")
            assert response.status_code == cls.status_code, name
            error = response.json()["error"]
            assert error["message"] == f"{name} happened; do this next"
            assert error["status"] == cls.status_code


def test_a_prompt_error_joins_the_family() -> None:
    with pytest.raises(PromptInvalid, match="missing"), _prompt_errors():
        load_prompt("grounded_answer").render()
