"""The composition root: reads Settings once and builds the store, model, retriever, answerer.

The CLI and the HTTP API are thin shells over one ``Service``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.answer import Answer, ExtractiveAnswerer
from assistant.conversation import Message, followup_context
from assistant.errors import BadRequest, ConfigurationError, NotFound, StoreUnavailable
from assistant.keyword import KeywordIndex
from assistant.reader import DEFAULT_WEIGHTS, Reader
from assistant.retrieval import Hit, Retriever
from assistant.settings import Settings
from assistant.uploads import Upload, UploadDir
from ingest.embedding import Embedder, EmbeddingModelError
from ingest.loaders import LoadOptions
from ingest.store import ChromaStore, DocRecord, StoreError, StoreUnavailableError
from ingest.sync import IngestReport, ProgressFn, sync

if TYPE_CHECKING:
    from assistant.generate import GenerativeAnswerer
    from assistant.llm import ChatLLM

T = TypeVar("T")


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
        self.keyword = KeywordIndex(
            self.store,
            settings.data_dir / "keyword-cache",
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
        self, paths: Sequence[Path], *, prune: bool = False, progress: ProgressFn | None = None
    ) -> IngestReport:
        return _store_call(
            lambda: sync(
                paths,
                self.store,
                self.embedder,
                prune=prune,
                chunk_size=self.settings.chunk_size,
                chunk_overlap=self.settings.chunk_overlap,
                progress=progress,
                flush_at=self.settings.ingest_batch,
                load_options=LoadOptions(
                    ocr=self.settings.ocr, ocr_languages=self.settings.ocr_languages
                ),
            )
        )

    def is_empty(self) -> bool:
        return _store_call(lambda: not self.store.doc_records())

    def ingest_sample(self, progress: ProgressFn | None = None) -> IngestReport:
        return self.ingest([sample_corpus_dir()], progress=progress)

    def sources(self) -> list[DocRecord]:
        records = _store_call(self.store.doc_records)
        return sorted(records.values(), key=lambda r: r.doc_id)

    def remove(self, doc_id: str) -> int:
        def run() -> int:
            if self.store.doc_record(doc_id) is None and not self.store.chunk_ids(doc_id):
                raise NotFound(f"no document with id {doc_id!r}; `assistant sources` lists them")
            removed = self.store.delete_document(doc_id)
            self.store.bump_generation()
            return removed

        return _store_call(run)

    # -- uploads (HTTP) -----------------------------------------------------------------------
    @property
    def uploads(self) -> UploadDir:
        """Uploaded files live under the data dir; the document id is the safe file name."""
        return UploadDir(self.settings.data_dir / "uploads")

    def ingest_uploads(self, files: Sequence[Upload]) -> IngestReport:
        """Store uploaded files and ingest them; a file with an existing name updates it.

        Every file is checked before any is written, and a file the ingest rejects is rolled
        back (to its earlier version, if any). Raises BadRequest when nothing could be ingested.
        """
        uploads = self.uploads
        staged = uploads.stage(files, self.settings.max_upload_bytes)
        try:
            report = self.ingest([item.path for item in staged])
        except BaseException:
            uploads.rollback(staged)
            raise
        by_path = {str(item.path.resolve()): item.name for item in staged}
        failed = {by_path.get(f["path"], f["path"]) for f in report.failed}
        uploads.commit(staged, failed)
        if failed and len(failed) == len(staged):
            reasons = "; ".join(
                f"{by_path.get(f['path'], f['path'])}: {f['error']}" for f in report.failed
            )
            raise BadRequest(f"nothing was ingested ({reasons})")
        return report

    def delete_document(self, doc_id: str) -> int:
        """``remove`` plus this process's uploaded copy, so a deleted upload cannot come back."""
        removed = self.remove(doc_id)
        self.uploads.discard(doc_id)
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

    def ask(self, question: str, history: Sequence[Message] = (), k: int | None = None) -> Answer:
        question = self.check_question(question)
        generator = self.generator
        if generator is not None:
            return _store_call(lambda: generator.answer(question, history=history, k=k))
        context = followup_context(question, list(history))
        return _store_call(lambda: self.answerer.answer(question, context=context, k=k))

    def ask_stream(
        self, question: str, history: Sequence[Message] = (), k: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """``ask`` as events: ``{"type": "token", "text"}`` per sentence, then
        ``{"type": "citations", "citations", "passages"}``, then ``{"type": "done", "refused",
        "answer"}``. The answer is complete (and verified) before the first event, so errors
        raise here, before any event, and no unverified text is ever streamed."""
        from assistant.generate import answer_events

        return answer_events(self.ask(question, history, k))

    def retrieve(self, question: str, history: Sequence[Message] = (), k: int = 10) -> list[Hit]:
        """The passages retrieval finds for a question (with follow-up context), best first."""
        context = followup_context(question, list(history))
        query = f"{context} {question}".strip()
        return _store_call(lambda: self.retriever.search(query, k))

    def health(self) -> dict[str, object]:
        # /health is public: a server URL, but not where on disk an embedded store lives
        where = self.store.url or "embedded"
        try:
            self.store.ping()
            store = {"ok": True, "chunks": self.store.count(), "where": where}
        except StoreError as exc:
            store = {"ok": False, "error": str(exc), "where": where}
        except Exception as exc:  # a broken store must make /health say so, not fail it
            print(f"error: health check: {exc!r}", file=sys.stderr)
            reason = f"the store fails ({type(exc).__name__}); the server log has the details"
            store = {"ok": False, "error": reason, "where": where}
        return {
            "ok": bool(store["ok"]),
            "store": store,
            "model": {"name": self.embedder.name, "loaded": self.embedder.loaded},
            "llm": {
                "backend": self.settings.llm_backend,
                "model": self.generator.llm.name if self.generator else None,
            },
        }


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
