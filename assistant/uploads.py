"""Uploaded files: safe names, type and size checks, and an upload folder that can roll back.

The ingest library reads documents from disk and takes the document id from the file name, so
an upload is written to ``<data dir>/uploads/<safe name>`` and ingested from there. A file that
replaces an earlier upload keeps the earlier version aside until the ingest has succeeded.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import BadRequest, UnsupportedUpload, UploadTooLarge
from ingest.loaders import SUPPORTED_LIST, format_for

MAX_FILES_PER_UPLOAD = 20
MAX_NAME_CHARS = 150
_UNSAFE = re.compile(r"[^\w.\-()+, ]+")


@dataclass(frozen=True)
class Upload:
    """One uploaded file as the client named it, already read into memory."""

    filename: str
    data: bytes


@dataclass
class Staged:
    name: str
    path: Path
    backup: Path | None  # the earlier upload of the same name, kept until the ingest succeeds


def safe_filename(raw: str) -> str:
    """The last path component of ``raw`` with unsafe characters replaced; never a path."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    name = re.sub(r"\s+", " ", name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if len(name) > MAX_NAME_CHARS:
        keep = MAX_NAME_CHARS - len(suffix) - 1
        name = f"{stem[:keep].rstrip(' .')}.{suffix}" if suffix else name[:MAX_NAME_CHARS]
    if not stem.strip(" ._-"):
        raise BadRequest(
            f"the file name {raw!r} is not usable; rename the file and upload it again"
        )
    return name


def check_upload(name: str, data: bytes, max_bytes: int) -> None:
    """Reject what the ingest could not read, before anything is written."""
    fmt = format_for(name)
    if fmt is None:
        suffix = Path(name).suffix.lower()
        raise UnsupportedUpload(
            f"{name}: unsupported file type {suffix or '(none)'!r}; upload one of {SUPPORTED_LIST}"
        )
    if len(data) > max_bytes:
        raise UploadTooLarge(
            f"{name}: the file is larger than the upload limit of {max_bytes} bytes "
            "(ASSISTANT_MAX_UPLOAD_BYTES)"
        )
    if not data.strip():
        raise BadRequest(f"{name}: the file is empty")
    problem = fmt.problem(data, name)
    if problem is not None:
        raise UnsupportedUpload(f"{name}: {problem}")


class UploadDir:
    """The folder uploads are ingested from; one file per document id."""

    def __init__(self, root: Path):
        self.root = root

    def stage(self, uploads: Sequence[Upload], max_bytes: int) -> list[Staged]:
        """Check every file, then write them all; nothing is written if one is bad."""
        if not uploads:
            raise BadRequest("no files in the upload; send one or more files in the 'files' field")
        if len(uploads) > MAX_FILES_PER_UPLOAD:
            raise BadRequest(
                f"{len(uploads)} files in one upload; the limit is {MAX_FILES_PER_UPLOAD}"
            )
        named: dict[str, bytes] = {}
        for upload in uploads:
            name = safe_filename(upload.filename)
            if name in named:
                raise BadRequest(f"two files in the upload are both named {name!r}")
            check_upload(name, upload.data, max_bytes)
            named[name] = upload.data
        self.root.mkdir(parents=True, exist_ok=True)
        staged: list[Staged] = []
        try:
            for name, data in named.items():
                staged.append(self._write(name, data))
        except OSError as exc:
            self.rollback(staged)
            raise BadRequest(f"cannot store the upload ({exc.strerror or exc})") from None
        return staged

    def _write(self, name: str, data: bytes) -> Staged:
        target = self.root / name
        token = uuid.uuid4().hex[:12]
        part = self.root / f".{name}.{token}.part"
        part.write_bytes(data)
        backup = None
        if target.exists():
            backup = self.root / f".{name}.{token}.previous"
            os.replace(target, backup)
        os.replace(part, target)
        return Staged(name, target, backup)

    def commit(self, staged: Sequence[Staged], failed: set[str]) -> None:
        """Keep the files that were ingested; put back what was there for the ones that failed."""
        for item in staged:
            if item.name in failed:
                self.rollback([item])
            elif item.backup is not None:
                item.backup.unlink(missing_ok=True)

    def rollback(self, staged: Sequence[Staged]) -> None:
        for item in staged:
            if item.backup is not None:
                os.replace(item.backup, item.path)
            else:
                item.path.unlink(missing_ok=True)

    def discard(self, path: Path | str) -> bool:
        """Delete an uploaded copy (the file a document was read from), if it is one of this
        folder's; any other path is left alone."""
        target = Path(path)
        try:
            inside = target.resolve().parent == self.root.resolve()
        except OSError:
            return False
        if inside and target.is_file():
            target.unlink()
            return True
        return False
