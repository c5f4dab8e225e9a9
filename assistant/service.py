"""The composition root: reads Settings once and builds the store, model, retriever, answerer.

The CLI and the HTTP API are thin shells over one ``Service``.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.answer import Answer, ExtractiveAnswerer
from assistant.conversation import Message, followup_context
from assistant.errors import BadRequest, ConfigurationError, NotFound, StoreUnavailable
from assistant.keyword import KeywordIndex
from assistant.reader import DEFAULT_WEIGHTS, Reader
from assistant.retrieval import Hit, Retriever, Scope
from assistant.settings import Settings
from assistant.uploads import Upload, UploadDir
from ingest.embedding import Embedder, EmbeddingModelError
from ingest.loaders import LoadOptions
from ingest.store import (
    ChromaStore,
    DocRecord,
    StoredChunk,
    StoreError,
    StoreUnavailableError,
    join_tags,
)
from ingest.sync import IngestReport, ProgressFn, sync

if TYPE_CHECKING:
    from assistant.generate import GenerativeAnswerer
    from assistant.llm import ChatLLM

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class Passage:
    """A stretch of a document's normalised text (``text`` begins at offset ``start``) with
    the quote ``[quote_start, quote_end)`` inside it."""

    doc_id: str
    title: str
    source: str
    location: str
    date: str
    text: str
    start: int
    quote_start: int
    quote_end: int
    page: int | None = None  # for a PDF: the page the quote is on
    has_file: bool = False  # the original file can be fetched (Service.original_file)

    @property
    def quote(self) -> str:
        return self.text[self.quote_start - self.start : self.quote_end - self.start]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quote": self.quote}


MAX_GAP = 8  # chunks leave out the blank lines between paragraphs they were split at


def stitch(chunks: Sequence[StoredChunk], at: int) -> tuple[str, int]:
    """The stretch of a document's text around offset ``at``, joined from its chunks (in text
    order) by their offsets; returns the text and its offset. The few characters between two
    chunks (the whitespace a split dropped) become newlines, so offsets hold; a longer gap
    starts a new stretch, and the one holding ``at`` is returned."""
    text = ""
    offset = end = chunks[0].start
    for chunk in chunks:
        if chunk.start > end + MAX_GAP:
            if offset <= at < end:
                break
            text, offset, end = "", chunk.start, chunk.start
        if chunk.start > end:
            text += "\n" * (chunk.start - end)
            end = chunk.start
        if chunk.end > end:
            text += chunk.text[end - chunk.start :]
            end = chunk.end
    return text, offset


def sample_corpus_dir() -> Path:
    return Path(str(resources.files("assistant") / "sample_data" / "corpus"))


class Service:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        llm: ChatLLM | None = None,
    ):
        self.settings = settings
        self.embedder = embedder or Embedder(settings.embedding_model, settings.embed_batch_size)
        if settings.chroma_url:
            self.store = ChromaStore(url=settings.chroma_url, name=settings.collection)
        else:
            self.store = ChromaStore(path=settings.data_dir / "chroma", name=settings.collection)
        shutil.rmtree(settings.data_dir / "keyword-cache", ignore_errors=True)  # before 2026-12
        self.keyword = KeywordIndex(
            self.store,
            settings.data_dir / "keyword",
            k1=settings.bm25_k1,
            b=settings.bm25_b,
            context=settings.bm25_context,
        )
        self.retriever = Retriever(
            self.store,
            self.embedder,
            self.keyword,
            dense_weight=settings.dense_weight,
            pool=settings.retrieval_pool,
        )
        self.reader = Reader(
            self.embedder,
            self.keyword,
            weights=settings.reader_weights or DEFAULT_WEIGHTS,
            threshold=settings.reader_threshold,
            followup_floor=settings.followup_floor,
            scope_floor=settings.scope_floor,
            shortlist=settings.reader_shortlist,
        )
        self.answerer = ExtractiveAnswerer(
            self.retriever,
            self.embedder,
            self.keyword,
            reader=None if settings.reader_threshold == 0 else self.reader,
            k=settings.top_k,
            threshold=settings.refusal_threshold,
            max_sentences=settings.max_answer_sentences,
        )
        # an LLM writes the answers only when a generative backend is configured; the
        # extractive answerer still retrieves, gates refusals and is the fallback
        self.generator: GenerativeAnswerer | None = None
        if settings.llm_backend != "extractive":
            from assistant.generate import build_generator

            self.generator = build_generator(settings, self.answerer, self.embedder, llm=llm)

    # -- documents ----------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress: ProgressFn | None = None,
        tags: Sequence[str] = (),
    ) -> IngestReport:
        """Add or update documents; ``tags`` are added to every document found."""
        tags = check_tags(tags)
        report = _store_call(
            lambda: sync(
                paths,
                self.store,
                self.embedder,
                prune=prune,
                chunk_size=self.settings.chunk_size,
                chunk_overlap=self.settings.chunk_overlap,
                progress=progress,
                flush_at=self.settings.ingest_batch,
                tags=tags,
                load_options=LoadOptions(
                    ocr=self.settings.ocr, ocr_languages=self.settings.ocr_languages
                ),
            )
        )
        self._caught_up()
        return report

    def _caught_up(self) -> None:
        """This process's own change is answerable at once (others' follow within a second).
        An embedded store's index, which lives beside it, is built now if it never was; a
        server's replicas each build their own when they start."""
        if self.keyword.ready:
            _store_call(self.keyword.refresh)
        elif self.store.url is None and not self.keyword.building:
            _store_call(self.keyword.build)

    def is_empty(self) -> bool:
        return _store_call(lambda: self.store.doc_count() == 0)

    def ingest_sample(self, progress: ProgressFn | None = None) -> IngestReport:
        return self.ingest([sample_corpus_dir()], progress=progress)

    def ensure_documents(self, progress: ProgressFn | None = None) -> IngestReport | None:
        """Give a first run something to answer from: an empty store gets the bundled sample
        corpus. Returns the report, or None when the store already had documents."""
        if not self.is_empty():
            return None
        log.info("The store is empty: ingesting the bundled sample corpus first...")
        report = self.ingest_sample(progress=progress)
        log.info("Ingested %d sample documents (%d chunks).", report.added, report.chunks)
        return report

    def sources(self, tag: str | None = None) -> list[DocRecord]:
        """The documents, by id; with ``tag``, only those that carry it."""
        records = list(_store_call(self.store.doc_records).values())
        if tag is not None:
            wanted = check_tags([tag])[0]
            records = [r for r in records if wanted in r.tag_list]
        return sorted(records, key=lambda r: r.doc_id)

    def set_tags(
        self,
        doc_id: str,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        replace: Sequence[str] | None = None,
    ) -> DocRecord:
        """Add and remove tags of one document (removal wins), or ``replace`` them all;
        returns its record."""
        add, remove = check_tags(add), check_tags(remove)
        new = None if replace is None else check_tags(replace)

        def run() -> DocRecord:
            record = self.store.doc_record(doc_id)
            if record is None:
                raise NotFound(f"no document with id {doc_id!r}; `assistant sources` lists them")
            kept = record.tag_list if new is None else new
            record.tags = join_tags([t for t in [*kept, *add] if t not in remove])
            self.store.put_doc_record(record)
            return record

        return _store_call(run)

    def scope(self, documents: Sequence[str] = (), tags: Sequence[str] = ()) -> Scope | None:
        """The documents a question is limited to: those named and those with any of the
        tags; None when neither is given. BadRequest when a named document does not exist
        or the scope matches no document."""
        if not documents and not tags:
            return None
        documents, tags = list(dict.fromkeys(documents)), check_tags(tags)
        records = _store_call(self.store.doc_records)
        unknown = [d for d in documents if d not in records]
        if unknown:
            raise BadRequest(
                f"no document with id {', '.join(map(repr, unknown))}; "
                "GET /api/documents or `assistant sources` lists them"
            )
        wanted = set(tags)
        matched = set(documents) | {d for d, r in records.items() if wanted & set(r.tag_list)}
        if not matched:
            raise BadRequest(
                f"no document has the tag {', '.join(map(repr, tags))}; "
                "`assistant sources` shows the tags, `assistant tag DOC TAG` adds one"
            )
        return Scope(frozenset(matched), tuple(documents), tuple(tags))

    def remove(self, doc_id: str) -> int:
        def run() -> int:
            if self.store.doc_record(doc_id) is None and not self.store.chunk_ids(doc_id):
                raise NotFound(f"no document with id {doc_id!r}; `assistant sources` lists them")
            return self.store.delete_document(doc_id)

        removed = _store_call(run)
        self._caught_up()
        return removed

    def passage(self, doc_id: str, start: int, end: int, reach: int = 1500) -> Passage:
        """The document's text around ``[start, end)``: the paragraph(s) holding it, at most
        ``reach`` characters either side, read from the stored chunks."""
        if start < 0 or end <= start:
            raise BadRequest(f"bad range {start}-{end}: give 0 <= start < end")

        def run() -> Passage:
            record = self.store.doc_record(doc_id)
            if record is None:
                raise NotFound(f"no document with id {doc_id!r}; `assistant sources` lists them")
            chunks = self.store.chunks_between(doc_id, max(0, start - reach), end + reach)
            if not chunks:
                raise NotFound(f"document {doc_id!r} has no text at {start}-{end}")
            text, offset = stitch(chunks, start)
            if not (offset <= start and end <= offset + len(text)):
                raise NotFound(f"document {doc_id!r} has no text at {start}-{end}")
            lo, hi = start - offset, end - offset
            para_start, para_end = _paragraph(text, lo, hi, reach)
            if not text[para_start:lo].strip() and not text[hi:para_end].strip():
                # the quote is its whole paragraph: show the paragraphs before and after it
                para_start = _paragraph(text, max(0, para_start - 3), para_start, reach)[0]
                para_end = _paragraph(text, para_end, min(len(text), para_end + 3), reach)[1]
                para_start, para_end = min(para_start, lo), max(para_end, hi)
            location = next((c.location for c in chunks if c.start <= start < c.end), "")
            page = re.fullmatch(r"page (\d+)", location)
            return Passage(
                doc_id=doc_id,
                title=record.title,
                source=public_source(record.source, doc_id),
                location=location,
                date=record.date,
                text=text[para_start:para_end],
                start=offset + para_start,
                quote_start=start,
                quote_end=end,
                page=int(page.group(1)) if page else None,
                has_file=_readable(record.path),
            )

        return _store_call(run)

    def original_file(self, doc_id: str) -> tuple[Path, str]:
        """The file a document was ingested from and the name to show for it; NotFound when
        the document is unknown or its file is no longer there (it may have been ingested on
        another machine sharing the Chroma server)."""
        record = _store_call(lambda: self.store.doc_record(doc_id))
        if record is None:
            raise NotFound(f"no document with id {doc_id!r}; `assistant sources` lists them")
        if not _readable(record.path):
            raise NotFound(f"the original file of {doc_id!r} is not on this server")
        return Path(record.path), Path(doc_id).name

    # -- uploads (HTTP) -----------------------------------------------------------------------
    @property
    def uploads(self) -> UploadDir:
        """Uploaded files live under the data dir; the document id is the safe file name."""
        return UploadDir(self.settings.data_dir / "uploads")

    def ingest_uploads(self, files: Sequence[Upload], tags: Sequence[str] = ()) -> IngestReport:
        """Store uploaded files and ingest them; a file with an existing name updates it.

        Every file is checked before any is written, and a file the ingest rejects is rolled
        back (to its earlier version, if any). Raises BadRequest when nothing could be ingested.
        """
        tags = check_tags(tags)  # before anything is staged
        uploads = self.uploads
        staged = uploads.stage(files, self.settings.max_upload_bytes)
        try:
            report = self.ingest([item.path for item in staged], tags=tags)
        except BaseException:
            uploads.rollback(staged)
            raise
        by_path = {str(item.path.resolve()): item.name for item in staged}
        for outcome in report.documents:  # clients see the name they uploaded, not our path
            outcome["path"] = by_path.get(outcome["path"], Path(outcome["path"]).name)
        failed = {by_path.get(f["path"], f["path"]) for f in report.failed}
        uploads.commit(staged, failed)
        for problem in [*report.failed, *report.encodings]:
            problem["path"] = by_path.get(problem["path"], Path(problem["path"]).name)
        if failed and len(failed) == len(staged):
            reasons = "; ".join(f"{f['path']}: {f['error']}" for f in report.failed)
            raise BadRequest(f"nothing was ingested ({reasons})")
        return report

    def delete_document(self, doc_id: str) -> int:
        """``remove`` plus this process's uploaded copy, so a deleted upload cannot come back."""
        record = _store_call(lambda: self.store.doc_record(doc_id))
        removed = self.remove(doc_id)
        if record is not None and record.path:
            self.uploads.discard(record.path)  # by the file it was read from, not by its id
        return removed

    # -- questions ----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question, stripped; BadRequest if it is empty or too long (checked before any
        work, so `assistant ask ""` on an empty store does not ingest the sample first)."""
        question = question.strip()
        if not question:
            raise BadRequest("the question is empty; ask something about your documents")
        if len(question) > self.settings.max_question_chars:
            raise BadRequest(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars} (ASSISTANT_MAX_QUESTION_CHARS)"
            )
        return question

    def ask(
        self,
        question: str,
        history: Sequence[Message] = (),
        k: int | None = None,
        scope: Scope | None = None,
    ) -> Answer:
        """Answer from the documents (only those of ``scope``, when given: see ``scope()``)."""
        question = self.check_question(question)
        generator = self.generator
        if generator is not None:
            return _store_call(
                lambda: generator.answer(question, history=history, k=k, scope=scope)
            )
        context = followup_context(question, list(history))
        return _store_call(
            lambda: self.answerer.answer(question, context=context, k=k, scope=scope)
        )

    def ask_stream(
        self,
        question: str,
        history: Sequence[Message] = (),
        k: int | None = None,
        scope: Scope | None = None,
    ) -> Iterator[dict[str, Any]]:
        """``ask`` as events: ``{"type": "token", "text"}`` per sentence, then
        ``{"type": "citations", "citations", "passages"}``, then ``{"type": "done", "refused",
        "answer"}``. The answer is complete (and verified) before the first event, so errors
        raise here, before any event, and no unverified text is ever streamed."""
        from assistant.generate import answer_events

        return answer_events(self.ask(question, history, k, scope))

    def retrieve(
        self,
        question: str,
        history: Sequence[Message] = (),
        k: int = 10,
        scope: Scope | None = None,
    ) -> list[Hit]:
        """The passages retrieval finds for a question (with follow-up context), best first."""
        context = followup_context(question, list(history))
        query = f"{context} {question}".strip()
        return _store_call(lambda: self.retriever.search(query, k, scope=scope))

    def health(self) -> dict[str, object]:
        # /health is public: a server URL, but not where on disk an embedded store lives
        where = self.store.url or "embedded"
        try:
            self.store.ping()
            store = {"ok": True, "chunks": self.store.count(), "where": where}
        except StoreError as exc:
            store = {"ok": False, "error": str(exc), "where": where}
        except Exception as exc:  # a broken store must make /health say so, not fail it
            log.error("health check: %r", exc)
            reason = f"the store fails ({type(exc).__name__}); the server log has the details"
            store = {"ok": False, "error": reason, "where": where}
        return {
            "ok": bool(store["ok"]),
            "store": store,
            "model": {"name": self.embedder.name, "loaded": self.embedder.loaded},
            # until it is ready, answers come from dense retrieval alone
            "keyword_index": self.keyword.status(),
            "llm": {
                "backend": self.settings.llm_backend,
                "model": self.generator.llm.name if self.generator else None,
            },
        }


def _paragraph(text: str, lo: int, hi: int, reach: int) -> tuple[int, int]:
    """The bounds of the paragraph(s) of ``text`` holding ``[lo, hi)``, at most ``reach``
    characters beyond it on either side."""
    start = text.rfind("\n\n", 0, lo)
    start = max(0, lo - reach) if start < 0 else start + 2
    end = text.find("\n\n", hi)
    end = min(len(text), hi + reach) if end < 0 else end
    return max(start, lo - reach), min(end, hi + reach)


def _readable(path: str) -> bool:
    return bool(path) and Path(path).is_file()


def public_source(source: str, doc_id: str) -> str:
    """What a user may see of where a document came from: its URL, else its name (never a
    path on the server)."""
    if re.match(r"https?://", source):
        return source
    return Path(doc_id).name


_TAG = re.compile(r"[\w][\w.:/-]{0,63}")


def check_tags(tags: Sequence[str]) -> list[str]:
    """Tags as stored: stripped, lower-case, de-duplicated; BadRequest for an invalid one."""
    result: list[str] = []
    for raw in tags:
        tag = raw.strip().lower()
        if not _TAG.fullmatch(tag):
            raise BadRequest(
                f"invalid tag {raw!r}: a tag is 1-64 letters, digits or - _ . : / "
                "and starts with a letter or digit"
            )
        if tag not in result:
            result.append(tag)
    return result


def _store_call(fn: Callable[[], T]) -> T:
    """Map store failures onto the assistant's error family."""
    try:
        return fn()
    except StoreUnavailableError as exc:
        raise StoreUnavailable(str(exc)) from None
    except StoreError as exc:  # e.g. a store built with another model: the server's setup
        raise ConfigurationError(str(exc)) from None
    except EmbeddingModelError as exc:
        raise ConfigurationError(str(exc)) from None
