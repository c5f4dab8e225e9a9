"""Follow-up handling without an LLM: carry the previous question as retrieval context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ANAPHORA = re.compile(
    r"\b(that|this|these|those|it|its|they|them|their|theirs|he|she|his|her|there|such|"
    r"same|former|latter|above|aforementioned)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(and|also|what about|how about|why|what else|more)\b", re.I)
MAX_HISTORY_TURNS = 6


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant", "system"]
    content: str


def is_followup(question: str) -> bool:
    words = re.findall(r"\w+", question)
    return bool(_ANAPHORA.search(question) or _CONTINUATION.search(question) or len(words) <= 3)


def followup_context(question: str, history: list[Message]) -> str:
    """The earlier user question(s) a follow-up depends on, or '' for a standalone question."""
    previous = [m.content for m in history[-2 * MAX_HISTORY_TURNS :] if m.role == "user"]
    if not previous or not is_followup(question):
        return ""
    # walk back through a chain of follow-ups to the question that started it
    context = [previous[-1]]
    for earlier in reversed(previous[:-1]):
        if not is_followup(context[0]):
            break
        context.insert(0, earlier)
    return " ".join(context)
