"""Follow-up handling without an LLM: carry the previous question as retrieval context."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assistant.errors import BadRequest

_ANAPHORA = re.compile(
    r"\b(that|this|these|those|it|its|they|them|their|theirs|he|she|his|her|there|such|"
    r"same|former|latter|above|aforementioned)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|why|what else|more)\b", re.I)
# how far back a follow-up's chain of earlier questions is looked for; not the LLM's prompt
# history (Settings.llm_history_turns), which is how many whole turns a model is shown
FOLLOWUP_LOOKBACK_TURNS = 6


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant", "system"]
    content: str


def is_followup(question: str) -> bool:
    words = re.findall(r"\w+", question)
    return bool(_ANAPHORA.search(question) or _CONTINUATION.search(question) or len(words) <= 3)


def followup_context(question: str, history: list[Message]) -> str:
    """The earlier user question(s) a follow-up depends on, or '' for a standalone question."""
    previous = [m.content for m in history[-2 * FOLLOWUP_LOOKBACK_TURNS :] if m.role == "user"]
    if not previous or not is_followup(question):
        return ""
    # walk back through a chain of follow-ups to the question that started it
    context = [previous[-1]]
    for earlier in reversed(previous[:-1]):
        if not is_followup(context[0]):
            break
        context.insert(0, earlier)
    return " ".join(context)


CONVERSATION_FORMAT = 1


def save_conversation(
    path: Path, history: list[Message], scope: dict[str, list[str]] | None = None
) -> None:
    """Write a conversation (and the scope it was asked in) as JSON, atomically: a crash
    while saving leaves the previous file, never half of one."""
    data: dict[str, Any] = {
        "format": CONVERSATION_FORMAT,
        "messages": [{"role": m.role, "content": m.content} for m in history],
        "scope": scope or {"documents": [], "tags": []},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_conversation(path: Path) -> tuple[list[Message], dict[str, list[str]]]:
    """The messages and scope saved by ``save_conversation``; BadRequest, saying what is
    wrong, for a file that is missing or is not such a conversation."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"no conversation file at {path}; start one with --save FILE") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"cannot read the conversation {path}: {exc}") from None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        raise BadRequest(f"{path} is not a conversation saved with `assistant chat --save`")
    history: list[Message] = []
    for item in messages:
        if (
            not isinstance(item, dict)
            or item.get("role") not in ("user", "assistant", "system")
            or not isinstance(item.get("content"), str)
        ):
            raise BadRequest(f"{path}: every message needs a role (user/assistant) and content")
        history.append(Message(item["role"], item["content"]))
    raw_scope = data.get("scope")
    raw_scope = raw_scope if isinstance(raw_scope, dict) else {}
    scope = {
        key: [v for v in raw_scope.get(key) or [] if isinstance(v, str)]
        for key in ("documents", "tags")
    }
    return history, scope
