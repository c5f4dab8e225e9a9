"""Typed settings, read once at the edge (CLI or API start-up) and passed down."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    embed_batch_size: int = Field(default=64, ge=1, le=1024, description="Texts per encode call.")
    chunk_size: int = Field(
        default=900, ge=100, le=8000, description="Target chunk length in characters."
    )
    chunk_overlap: int = Field(
        default=150, ge=0, le=2000, description="Characters of context repeated between chunks."
    )
    top_k: int = Field(default=6, ge=1, le=50, description="Passages retrieved per question.")
    dense_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Weight of dense similarity against BM25 in the fused retrieval score.",
    )
    refusal_threshold: float = Field(
        default=0.48,
        ge=0.0,
        le=1.0,
        description="Minimum support score of the best sentence; below it the assistant refuses.",
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
    host: str = Field(default="127.0.0.1", description="Interface `assistant serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `assistant serve` uses.")

    @field_validator("api_key", "embedding_model")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

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
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("ASSISTANT_CHUNK_OVERLAP must be smaller than ASSISTANT_CHUNK_SIZE")
        return self
