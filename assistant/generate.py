"""Generative answers: an LLM writes from numbered passages, and every sentence is verified.

The extractive answerer stays in charge of the evidence: it retrieves and ranks the passages,
decides when the sources are too weak (then the answer is a refusal and no model is asked), and
its answer is what the user gets whenever the model's answer does not survive verification.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.answer import REFUSAL_TEXT, Answer, ExtractiveAnswerer
from assistant.conversation import Message, followup_context
from assistant.errors import PromptInvalid, PromptTooLong, UnsafeBuild
from assistant.reader import Candidate
from assistant.retrieval import Hit, Scope
from assistant.text import tokens
from assistant.verify import MARKER, Verification, Verifier
from prompts import PromptError, RenderedMessage, load_prompt

if TYPE_CHECKING:
    from assistant.llm import ChatLLM
    from assistant.settings import Settings
    from ingest.embedding import Embedder

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 2.8  # conservative for English legal prose, so prompts fit the window
PROMPT_OVERHEAD_TOKENS = 450  # rules, question and the chat template around the passages
_TAG = re.compile(r"<(\s*/?\s*)(passages?)\b", re.I)


@dataclass
class Generation:
    """One generated answer and how it came about (for tests, evaluation and debugging)."""

    answer: Answer
    standalone: str  # the question the passages were retrieved for
    passages: list[Hit] = field(default_factory=list)
    messages: list[RenderedMessage] = field(default_factory=list)
    raw: str = ""  # the model's reply before verification
    verification: Verification | None = None
    fallback: bool = False  # True: the extractive answer (or its refusal) was given
    warning: str = ""  # why the model was not used at all, when it was not


class GenerativeAnswerer:
    def __init__(
        self,
        llm: ChatLLM,
        extractive: ExtractiveAnswerer,
        verifier: Verifier,
        *,
        max_tokens: int,
        context_tokens: int,
        history_turns: int,
        max_sentences: int,
    ):
        self.llm = llm
        self.extractive = extractive
        self.verifier = verifier
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self.history_turns = history_turns
        self.max_sentences = max_sentences
        self._warned = False
        with _prompt_errors():
            self.answer_prompt = load_prompt("grounded_answer")
            self.condense_prompt = load_prompt("condense_question")

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Message] = (),
        k: int | None = None,
        scope: Scope | None = None,
    ) -> Answer:
        answer = self.generate(question, history=history, k=k, scope=scope).answer
        answer.scope = scope
        return answer

    def generate(
        self,
        question: str,
        *,
        history: Sequence[Message] = (),
        k: int | None = None,
        scope: Scope | None = None,
    ) -> Generation:
        try:
            return self._generate(question, history, k, scope)
        except UnsafeBuild as exc:
            # a build known to crash is never run: say how to fix it, answer extractively
            if not self._warned:
                log.warning("%s", exc)
                self._warned = True
            context = followup_context(question, list(history))
            answer = self.extractive.answer(question, context=context, k=k, scope=scope)
            query = f"{context} {question}".strip()
            return Generation(answer, query, fallback=True, warning=str(exc))

    def _generate(
        self, question: str, history: Sequence[Message], k: int | None, scope: Scope | None
    ) -> Generation:
        asked, context = self.standalone_question(question, history)
        extractive = self.extractive.answer(asked, context=context, k=k, scope=scope)
        if extractive.refused and asked != question:
            # a rewrite that finds nothing is not trusted over the plain follow-up
            asked, context = question, followup_context(question, list(history))
            extractive = self.extractive.answer(asked, context=context, k=k, scope=scope)
        query = f"{context} {asked}".strip()
        if extractive.refused:  # the evidence is too weak for any answer
            return Generation(extractive, query, fallback=True)
        hits, ranked = self.extractive.rank(asked, context=context, k=k, scope=scope)
        best: dict[int, float] = {}
        for cand in ranked:
            best.setdefault(id(cand.hit), cand.support)
        hits.sort(key=lambda h: -best.get(id(h), -math.inf))
        passages = self._fit(hits)
        while True:
            messages = self.prompt(asked if not context else query, passages)
            try:
                raw = "".join(self.llm.stream(messages))
                break
            except PromptTooLong:
                if len(passages) <= 1:
                    raise
                passages = passages[:-1]
        verification = self.verifier.verify(raw, query, passages)
        generation = Generation(extractive, query, passages, messages, raw, verification, True)
        if verification.answer is not None and self._answers_question(verification, ranked):
            verification.answer.question = query
            generation.answer, generation.fallback = verification.answer, False
        return generation

    def _answers_question(self, verification: Verification, ranked: list[Candidate]) -> bool:
        """At least one kept sentence rests on passage text that the extractive answerer
        would itself quote for this question: true statements off the question's point (a
        heading, a stray fact) are not an answer."""
        if not ranked:
            return False
        floor = max(self.extractive.threshold - 0.1, ranked[0].support - 0.25)
        for sentence in verification.sentences:
            span = sentence.span
            if span is None or sentence.status not in ("kept", "repointed"):
                continue
            for cand in ranked:
                same = cand.hit.chunk.doc_id == span.hit.chunk.doc_id
                if same and span.start <= cand.start < span.end and cand.support >= floor:
                    return True
        return False

    def prompt(self, question: str, passages: list[Hit]) -> list[RenderedMessage]:
        """The grounded-answer messages: rules, then the passages as delimited quoted data."""
        blocks = "\n".join(passage_block(n, hit) for n, hit in enumerate(passages, start=1))
        with _prompt_errors():
            return self.answer_prompt.render(
                refusal=REFUSAL_TEXT,
                max_sentences=self.max_sentences,
                passages=blocks,
                question=_neutralise(question),
            )

    def standalone_question(self, question: str, history: Sequence[Message]) -> tuple[str, str]:
        """(question, context) to retrieve with: the model's standalone rewrite of a follow-up
        when it is a faithful one, else the follow-up with the earlier question as context."""
        context = followup_context(question, list(history))
        turns = [m for m in history if m.role in ("user", "assistant")]
        turns = turns[-2 * self.history_turns :] if self.history_turns else []
        if not context or not turns:
            return question, context
        conversation = "\n".join(
            f"{'User' if m.role == 'user' else 'Assistant'}: {_brief(m.content)}" for m in turns
        )
        with _prompt_errors():
            messages = self.condense_prompt.render(history=conversation, question=question)
        try:
            reply = self.llm.complete(messages)
        except PromptTooLong:
            return question, context
        rewritten = _first_question(reply)
        if rewritten and _faithful(question, rewritten, conversation):
            return rewritten, ""
        return question, context

    def _fit(self, hits: list[Hit]) -> list[Hit]:
        """As many passages, best first, as the context window leaves room for."""
        budget = (self.context_tokens - self.max_tokens - PROMPT_OVERHEAD_TOKENS) * CHARS_PER_TOKEN
        chosen: list[Hit] = []
        used = 0
        for hit in hits:
            size = len(hit.chunk.text) + len(hit.chunk.title) + len(hit.chunk.location) + 40
            if chosen and used + size > budget:
                break
            chosen.append(hit)
            used += size
        return chosen


def build_generator(
    settings: Settings,
    extractive: ExtractiveAnswerer,
    embedder: Embedder,
    llm: ChatLLM | None = None,
) -> GenerativeAnswerer:
    """The generative answerer the settings describe (the model loads on first question);
    ``llm`` reuses an already built model instead."""
    from assistant.llm import build_llm

    return GenerativeAnswerer(
        llm or build_llm(settings),
        extractive,
        Verifier(embedder, min_supported=settings.llm_min_supported),
        max_tokens=settings.llm_max_tokens,
        context_tokens=settings.llm_context_tokens,
        history_turns=settings.llm_history_turns,
        max_sentences=settings.max_answer_sentences,
    )


def passage_block(n: int, hit: Hit) -> str:
    """One passage as a delimited block; tags inside the document cannot close it early."""
    chunk = hit.chunk
    label = chunk.title + (f" — {chunk.location}" if chunk.location else "")
    label = _neutralise(label).replace('"', "'").replace("\n", " ")
    return f'<passage n="{n}" source="{label}">\n{_neutralise(chunk.text)}\n</passage>'


@contextmanager
def _prompt_errors() -> Iterator[None]:
    """A prompt file that fails its checks (or code that fills one wrongly) is the
    installation's fault: a ``PromptInvalid`` with the loader's message, not a crash."""
    try:
        yield
    except PromptError as exc:
        raise PromptInvalid(str(exc)) from None


def answer_events(answer: Answer) -> Iterator[dict[str, Any]]:
    """An answer as stream events: its sentences (each with its markers) as ``token`` events,
    then ``citations``, then ``done``; the token texts join to exactly ``answer.answer``."""
    for piece in sentence_pieces(answer.answer):
        yield {"type": "token", "text": piece}
    data = answer.as_dict()
    yield {"type": "citations", "citations": data["citations"], "passages": data["passages"]}
    yield {"type": "done", "refused": answer.refused, "answer": data}


def sentence_pieces(text: str) -> list[str]:
    """Cut after each group of citation markers that the space after it ends."""
    pieces: list[str] = []
    cursor = 0
    for match in re.finditer(r"(?:\s*\[\d+\])+\s*", text):
        if match.end() < len(text) and text[match.end() - 1].isspace():
            pieces.append(text[cursor : match.end()])
            cursor = match.end()
    if cursor < len(text):
        pieces.append(text[cursor:])
    return pieces


def _neutralise(text: str) -> str:
    return _TAG.sub(r"‹\1\2", text)


def _brief(text: str, limit: int = 400) -> str:
    text = re.sub(r"\s+", " ", MARKER.sub("", text)).strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _first_question(reply: str) -> str:
    for line in reply.splitlines():
        line = re.sub(
            r"^\s*(?:standalone question|question|rewritten question)\s*:\s*", "", line, flags=re.I
        )
        line = line.strip().strip("\"'“”").strip()
        if line:
            return line if len(line) <= 400 else ""
    return ""


def _faithful(question: str, rewritten: str, conversation: str) -> bool:
    """A rewrite is a question that keeps most of the follow-up's words and adds some from
    the conversation (a small model often answers instead, or repeats an earlier question)."""
    if not rewritten.endswith("?") or len(rewritten.split()) > 60:
        return False
    asked, new, said = set(tokens(question)), set(tokens(rewritten)), set(tokens(conversation))
    kept = len(asked & new) >= math.ceil(3 * len(asked) / 4)
    return kept and bool((new - asked) & said)
