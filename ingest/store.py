"""Chroma access (the only module that imports chromadb).

Three collections: ``<name>_chunks`` holds chunk texts, embeddings and metadata; ``<name>_docs``
holds one record per completely ingested document. A document record is written only after
all of its chunks are in place, which is what makes an interrupted ingest recoverable.
``<name>_removals`` holds one tombstone per removed document id.

Together they are the change feed that each process's keyword index follows
(assistant.keyword): every record write stamps ``changed_at``, every removal writes its
tombstone, so "what changed since T" is two filtered reads, never a read of the corpus.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.span_vectors import SpanVectors, unpack

SPAN_CACHE = 4096  # chunks whose sentence vectors are kept in memory (about 15 MB)


class StoreError(Exception):
    """The store cannot be used; the message says what to do."""


class StoreUnavailableError(StoreError):
    """The Chroma server cannot be reached."""


class ModelMismatchError(StoreError):
    """The store was built with another embedding model."""


@dataclass
class DocRecord:
    doc_id: str
    doc_hash: str
    title: str
    source: str
    path: str
    date: str
    chunks: int
    size: int
    mtime_ns: int
    ingested_at: float
    chunking: str = ""  # chunk size/overlap the chunks were cut with; a change re-chunks
    tags: str = ""  # the document's tags, comma-separated (Chroma metadata holds no lists)
    language: str = ""  # detected at ingest (ingest.language); "" when too short to tell
    changed_at: float = 0.0  # when this record was last written (the change feed's clock)

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    @classmethod
    def from_metadata(cls, doc_id: str, meta: dict[str, Any]) -> DocRecord:
        return cls(
            doc_id=doc_id,
            doc_hash=str(meta.get("doc_hash", "")),
            title=str(meta.get("title", doc_id)),
            source=str(meta.get("source", "")),
            path=str(meta.get("path", "")),
            date=str(meta.get("date", "")),
            chunks=int(meta.get("chunks", 0)),
            size=int(meta.get("size", -1)),
            mtime_ns=int(meta.get("mtime_ns", -1)),
            ingested_at=float(meta.get("ingested_at", 0.0)),
            chunking=str(meta.get("chunking", "")),
            tags=str(meta.get("tags", "")),
            language=str(meta.get("language", "")),
            changed_at=float(meta.get("changed_at", 0.0)),
        )


@dataclass
class StoredChunk:
    chunk_id: str
    text: str
    doc_id: str
    doc_hash: str
    ordinal: int
    start: int
    end: int
    location: str
    title: str
    source: str
    language: str = ""  # the document's (ingest.language), "" when unknown


def _chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> StoredChunk:
    return StoredChunk(
        chunk_id=chunk_id,
        text=text,
        doc_id=str(meta["doc_id"]),
        doc_hash=str(meta.get("doc_hash", "")),
        ordinal=int(meta.get("ordinal", 0)),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        location=str(meta.get("location", "")),
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        language=str(meta.get("language", "")),
    )


def join_tags(*groups: Sequence[str]) -> str:
    """Tags as a record stores them: the union of the groups, sorted, comma-separated."""
    return ",".join(sorted({t for group in groups for t in group if t}))


def _unavailable(exc: Exception, where: str) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"cannot reach the Chroma server at {where} ({type(exc).__name__}); "
        "start it (chroma run --path DIR --port N) or unset ASSISTANT_CHROMA_URL"
    )


class ChromaStore:
    """Chunk and document storage in an embedded Chroma directory or on a Chroma server."""

    def __init__(
        self, *, path: Path | None = None, url: str | None = None, name: str = "documents"
    ):
        if (path is None) == (url is None):
            raise StoreError("give exactly one of a local store path or a Chroma server URL")
        self.path = path
        self.url = url
        self.name = name
        self._client: Any = None
        self._chunks: Any = None
        self._docs: Any = None
        self._removals: Any = None
        self._max_batch: int | None = None
        self._span_cache: OrderedDict[tuple[str, int, int], SpanVectors | None] = OrderedDict()
        self._span_lock = threading.Lock()

    @property
    def where(self) -> str:
        return self.url or str(self.path)

    # -- connection ---------------------------------------------------------------------------
    def _connect(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.url is not None:
                parsed = urlparse(self.url)
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                assert self.path is not None
                self.path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(self.path), settings=chroma_settings
                )
            config: Any = {"hnsw": {"space": "cosine"}}
            self._chunks = self._client.get_or_create_collection(
                f"{self.name}_chunks", embedding_function=None, configuration=config
            )
            self._docs = self._client.get_or_create_collection(
                f"{self.name}_docs", embedding_function=None
            )
            self._removals = self._client.get_or_create_collection(
                f"{self.name}_removals", embedding_function=None
            )
        except StoreError:
            raise
        except Exception as exc:
            self._client = None
            if self.url is not None:
                raise _unavailable(exc, self.url) from None
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from None

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Chroma call, turning connection failures into StoreUnavailableError."""
        if self._client is None:
            self._connect()
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            if self.url is not None and _is_connection_error(exc):
                self._client = None  # reconnect on the next call
                raise _unavailable(exc, self.url) from None
            raise

    @property
    def chunks(self) -> Any:
        if self._client is None:
            self._connect()
        return self._chunks

    @property
    def docs(self) -> Any:
        if self._client is None:
            self._connect()
        return self._docs

    @property
    def removals(self) -> Any:
        if self._client is None:
            self._connect()
        return self._removals

    def ping(self) -> None:
        """Raise StoreUnavailableError unless the store answers."""
        self._call(lambda: self.chunks.count())

    # -- model bookkeeping and change generation ----------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            collection = self._client.get_collection(f"{self.name}_chunks")
            return dict(collection.metadata or {})

        return self._call(read)

    def _set_metadata(self, **changes: Any) -> None:
        def write() -> None:
            collection = self._client.get_collection(f"{self.name}_chunks")
            meta = dict(collection.metadata or {})
            meta.update(changes)
            collection.modify(metadata=meta)

        self._call(write)

    def check_model(self, model_name: str) -> None:
        """Fail clearly when the store was built with a different embedding model."""
        stored = self._metadata().get("embedding_model")
        if stored and stored != model_name:
            raise ModelMismatchError(
                f"the store at {self.where} was built with the embedding model {stored!r}, "
                f"not {model_name!r}; set ASSISTANT_EMBEDDING_MODEL={stored} or re-index into a "
                "new ASSISTANT_DATA_DIR (or ASSISTANT_COLLECTION) with the new model"
            )

    def record_model(self, model_name: str, dimension: int) -> None:
        meta = self._metadata()
        if meta.get("embedding_model") != model_name:
            self._set_metadata(embedding_model=model_name, embedding_dim=dimension)

    def generation(self) -> str:
        """A token that changes whenever chunks are added or removed (keys the BM25 cache)."""
        return str(self._metadata().get("generation", "empty"))

    def bump_generation(self) -> None:
        self._set_metadata(generation=uuid.uuid4().hex, changed_at=time.time())

    # -- documents ----------------------------------------------------------------------------
    def doc_records(self) -> dict[str, DocRecord]:
        result = self._call(lambda: self.docs.get(include=["metadatas"]))
        return {
            doc_id: DocRecord.from_metadata(doc_id, meta or {})
            for doc_id, meta in zip(result["ids"], result["metadatas"], strict=True)
        }

    def doc_count(self) -> int:
        return int(self._call(lambda: self.docs.count()))

    def doc_records_of(self, doc_ids: Sequence[str]) -> dict[str, DocRecord]:
        """The records of those of these documents that have one."""
        if not doc_ids:
            return {}
        unique = list(dict.fromkeys(doc_ids))
        result = self._call(lambda: self.docs.get(ids=unique, include=["metadatas"]))
        return {
            doc_id: DocRecord.from_metadata(doc_id, meta or {})
            for doc_id, meta in zip(result["ids"], result["metadatas"], strict=True)
        }

    def doc_records_at(self, paths: Sequence[str]) -> dict[str, DocRecord]:
        """The records of the documents ingested from these file paths."""
        if not paths:
            return {}
        unique = list(dict.fromkeys(paths))
        where = {"path": unique[0]} if len(unique) == 1 else {"path": {"$in": unique}}
        result = self._call(lambda: self.docs.get(where=where, include=["metadatas"]))
        return {
            doc_id: DocRecord.from_metadata(doc_id, meta or {})
            for doc_id, meta in zip(result["ids"], result["metadatas"], strict=True)
        }

    def doc_record(self, doc_id: str) -> DocRecord | None:
        result = self._call(lambda: self.docs.get(ids=[doc_id], include=["metadatas"]))
        if not result["ids"]:
            return None
        return DocRecord.from_metadata(doc_id, result["metadatas"][0] or {})

    def put_doc_record(self, record: DocRecord) -> None:
        self.put_doc_records([record])

    def put_doc_records(self, records: Sequence[DocRecord]) -> None:
        """Write document records, many per call, each stamped with the time it is written."""
        step = self._batch_size()
        now = time.time()
        for record in records:
            record.changed_at = now
        for s in range(0, len(records), step):
            part = records[s : s + step]
            metas = [{k: v for k, v in asdict(r).items() if k != "doc_id"} for r in part]
            self._call(
                lambda part=part, metas=metas: self.docs.upsert(
                    ids=[r.doc_id for r in part], embeddings=[[1.0]] * len(part), metadatas=metas
                )
            )

    def delete_doc_record(self, doc_id: str) -> None:
        self.delete_doc_records([doc_id])

    def delete_doc_records(self, doc_ids: Sequence[str]) -> None:
        step = self._batch_size()
        for s in range(0, len(doc_ids), step):
            self._call(lambda s=s: self.docs.delete(ids=list(doc_ids[s : s + step])))

    def delete_document(self, doc_id: str) -> int:
        """Write the document's tombstone, remove its record, then its chunks. Returns how many
        chunks went.

        Record before chunks: a record promises complete chunks, so an interruption must leave
        at worst chunks without a record (which the next ingest redoes or prunes), never a
        record that makes the next ingest skip the document as unchanged. The tombstone goes
        first, so a keyword index that follows the change feed hears of the
        removal even if this process dies before the chunks are gone (it re-reads the documents
        of recent tombstones and changes for a while, see assistant.keyword).
        """
        self._call(
            lambda: self.removals.upsert(
                ids=[doc_id], embeddings=[[1.0]], metadatas=[{"at": time.time()}]
            )
        )
        self.delete_doc_record(doc_id)
        return self.delete_chunks(doc_id)

    def changed_since(self, since: float) -> tuple[dict[str, DocRecord], list[str]]:
        """The document records written at or after ``since`` and the ids of the documents
        removed then: the change feed (two filtered reads, whatever the corpus size)."""
        written = self._call(
            lambda: self.docs.get(where={"changed_at": {"$gte": since}}, include=["metadatas"])
        )
        removed = self._call(lambda: self.removals.get(where={"at": {"$gte": since}}, include=[]))
        records = {
            doc_id: DocRecord.from_metadata(doc_id, meta or {})
            for doc_id, meta in zip(written["ids"], written["metadatas"], strict=True)
        }
        return records, list(removed["ids"])

    # -- chunks -------------------------------------------------------------------------------
    def _batch_size(self) -> int:
        """Most items per Chroma write: the client's limit (asked once), at most 2,000."""
        if self._max_batch is None:
            self._max_batch = min(int(self._call(lambda: self._client.get_max_batch_size())), 2000)
        return self._max_batch

    def upsert_chunks(
        self,
        ids: Sequence[str],
        embeddings: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        step = self._batch_size()
        for s in range(0, len(ids), step):
            e = s + step
            self._call(
                lambda s=s, e=e: self.chunks.upsert(
                    ids=list(ids[s:e]),
                    embeddings=embeddings[s:e],
                    documents=list(texts[s:e]),
                    metadatas=list(metadatas[s:e]),
                )
            )

    def chunk_ids(self, doc_id: str) -> dict[str, str]:
        """Chunk id -> doc_hash for one document."""
        result = self._call(
            lambda: self.chunks.get(where={"doc_id": doc_id}, include=["metadatas"])
        )
        return {
            cid: str((meta or {}).get("doc_hash", ""))
            for cid, meta in zip(result["ids"], result["metadatas"], strict=True)
        }

    def _ids_where(self, where: dict[str, Any], page: int = 5000) -> list[str]:
        """Ids only, in pages: fetching metadata makes Chroma load the chunk texts as well,
        hundreds of MB for a 50 MB document."""
        ids: list[str] = []
        while True:
            offset = len(ids)
            result = self._call(
                lambda offset=offset: self.chunks.get(
                    where=where, include=[], limit=page, offset=offset
                )
            )
            ids.extend(result["ids"])
            if len(result["ids"]) < page:
                return ids

    def delete_chunks(
        self,
        doc_id: str,
        keep_hash: str | None = None,
        *,
        keep_ids: Collection[str] | None = None,
    ) -> int:
        """Delete a document's chunks, except those of ``keep_hash`` or in ``keep_ids``."""
        where: dict[str, Any] = {"doc_id": doc_id}
        if keep_hash is not None:
            where = {"$and": [where, {"doc_hash": {"$ne": keep_hash}}]}
        return self._delete_ids_where(where, set(keep_ids or ()))

    def delete_stale_chunks(self, doc_ids: Sequence[str], keep_ids: Collection[str]) -> int:
        """Delete every chunk of these documents that is not in ``keep_ids``, one query for
        the lot (chunk ids embed their document, so one keep set serves them all)."""
        deleted = 0
        for s in range(0, len(doc_ids), 500):
            part = list(doc_ids[s : s + 500])
            where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
            deleted += self._delete_ids_where(where, keep_ids)
        return deleted

    def _delete_ids_where(self, where: dict[str, Any], keep: Collection[str]) -> int:
        stale = [cid for cid in self._ids_where(where) if cid not in keep]
        step = self._batch_size()
        for s in range(0, len(stale), step):
            self._call(lambda s=s: self.chunks.delete(ids=stale[s : s + step]))
        return len(stale)

    def count(self) -> int:
        return int(self._call(lambda: self.chunks.count()))

    def iter_chunks(self, page: int = 2000) -> Iterator[StoredChunk]:
        """Every chunk with its text and metadata, in pages."""
        for chunk, _, _ in self._pages(page, with_embeddings=False):
            yield chunk

    def iter_chunks_with_vectors(
        self, page: int = 2000
    ) -> Iterator[tuple[StoredChunk, np.ndarray, SpanVectors | None]]:
        """Every chunk with its stored vector and sentence vectors (None when it was stored
        without them), in pages: what the in-memory search index holds."""
        for chunk, vector, meta in self._pages(page, with_embeddings=True):
            assert vector is not None
            yield chunk, vector, unpack(meta)

    def _pages(
        self, page: int, with_embeddings: bool
    ) -> Iterator[tuple[StoredChunk, np.ndarray | None, dict[str, Any]]]:
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        offset = 0
        while True:
            result = self._call(
                lambda offset=offset: self.chunks.get(include=include, limit=page, offset=offset)
            )
            ids = result["ids"]
            vectors = result["embeddings"] if with_embeddings else [None] * len(ids)
            for cid, text, meta, vector in zip(
                ids, result["documents"], result["metadatas"], vectors, strict=True
            ):
                array = None if vector is None else np.asarray(vector, dtype=np.float32)
                yield _chunk_from(cid, text or "", meta or {}), array, meta or {}
            if len(ids) < page:
                return
            offset += page

    def chunk_metadata(self) -> list[tuple[str, dict[str, Any]]]:
        result = self._call(lambda: self.chunks.get(include=["metadatas"]))
        return [
            (cid, meta or {}) for cid, meta in zip(result["ids"], result["metadatas"], strict=True)
        ]

    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        if not ids:
            return []
        result = self._call(
            lambda: self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        )
        found = {
            cid: _chunk_from(cid, text or "", meta or {})
            for cid, text, meta in zip(
                result["ids"], result["documents"], result["metadatas"], strict=True
            )
        }
        return [found[i] for i in ids if i in found]

    def chunks_of(self, doc_ids: Sequence[str]) -> list[StoredChunk]:
        """Every chunk of these documents (any version), read 100 documents per call."""
        found: list[StoredChunk] = []
        for s in range(0, len(doc_ids), 100):
            part = list(doc_ids[s : s + 100])
            where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
            result = self._call(
                lambda where=where: self.chunks.get(where=where, include=["documents", "metadatas"])
            )
            found.extend(
                _chunk_from(cid, text or "", meta or {})
                for cid, text, meta in zip(
                    result["ids"], result["documents"], result["metadatas"], strict=True
                )
            )
        return found

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks (those still in the store)."""
        if not ids:
            return {}
        result = self._call(lambda: self.chunks.get(ids=list(ids), include=["embeddings"]))
        return {
            cid: np.asarray(vector, dtype=np.float32)
            for cid, vector in zip(result["ids"], result["embeddings"], strict=True)
        }

    def span_vectors(self, chunks: Sequence[StoredChunk]) -> dict[str, SpanVectors | None]:
        """The sentence vectors stored with these chunks (None for a chunk stored without, or
        gone from the store), read for these chunks only and kept in a bounded cache (keyed by
        the chunk's id and extent: re-chunking the same text reuses ids)."""
        found: dict[str, SpanVectors | None] = {}
        missing: dict[str, tuple[str, int, int]] = {}
        with self._span_lock:
            for chunk in chunks:
                key = (chunk.chunk_id, chunk.start, chunk.end)
                if key in self._span_cache:
                    self._span_cache.move_to_end(key)
                    found[chunk.chunk_id] = self._span_cache[key]
                else:
                    missing[chunk.chunk_id] = key
        if missing:
            result = self._call(lambda: self.chunks.get(ids=list(missing), include=["metadatas"]))
            read = dict(zip(result["ids"], result["metadatas"], strict=True))
            with self._span_lock:
                for cid, key in missing.items():
                    meta = read.get(cid)
                    spans = None if meta is None else unpack(meta)
                    found[cid] = spans
                    if meta is not None:
                        self._span_cache[key] = spans
                while len(self._span_cache) > SPAN_CACHE:
                    self._span_cache.popitem(last=False)
        return found

    def chunks_between(self, doc_id: str, start: int, end: int) -> list[StoredChunk]:
        """The document's chunks that overlap ``[start, end)`` of its text, in text order."""
        where = {"$and": [{"doc_id": doc_id}, {"start": {"$lt": end}}, {"end": {"$gt": start}}]}
        result = self._call(
            lambda: self.chunks.get(where=where, include=["documents", "metadatas"])
        )
        found = [
            _chunk_from(cid, text or "", meta or {})
            for cid, text, meta in zip(
                result["ids"], result["documents"], result["metadatas"], strict=True
            )
        ]
        return sorted(found, key=lambda c: (c.start, c.ordinal))

    def nearest_ids(
        self, embedding: np.ndarray, n: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids of the nearest chunks with their cosine similarity, best first; no texts are
        read, for callers that hold the chunks already. ``doc_ids`` limits the search to
        those documents' chunks (filtered inside Chroma's index, not after it)."""
        where: dict[str, Any] | None = None
        if doc_ids is not None:
            if not doc_ids:
                return []
            ids = sorted(doc_ids)
            where = {"doc_id": ids[0]} if len(ids) == 1 else {"doc_id": {"$in": ids}}
        result = self._call(
            lambda: self.chunks.query(
                query_embeddings=[embedding], n_results=n, where=where, include=["distances"]
            )
        )
        return [
            (cid, 1.0 - float(dist))
            for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
        ]


def _is_connection_error(exc: Exception) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = str(exc).lower()
    return (
        bool(
            names
            & {
                "ConnectError",
                "ConnectionError",
                "ConnectTimeout",
                "ReadTimeout",
                "RemoteProtocolError",
                "ReadError",
                "WriteError",
                "TimeoutException",
            }
        )
        or "connection" in text
        or "could not connect" in text
    )
