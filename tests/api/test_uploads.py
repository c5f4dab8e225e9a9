"""Upload names are sanitised to one safe file name; the upload folder rolls back cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.api.routes import web_dir
from assistant.errors import BadRequest
from assistant.uploads import Upload, UploadDir, safe_filename
from ingest.loaders import FORMATS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("/abs/path/report.pdf", "report.pdf"),
        (".hidden.md", "hidden.md"),
        ("a\x00b\nc.txt", "abc.txt"),
        ("Résumé (final).docx", "Résumé (final).docx"),
        ("semi;colon|pipe*.md", "semi_colon_pipe_.md"),
        ("trailing dots....", "trailing dots"),
        ("x" * 300 + ".txt", "x" * 146 + ".txt"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    name = safe_filename(raw)
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith(".")


@pytest.mark.parametrize("raw", ["", "..", "../", "...", "/", " . ", "\x00"])
def test_unusable_names_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest):
        safe_filename(raw)


def test_a_replaced_upload_comes_back_on_rollback(tmp_path: Path) -> None:
    folder = UploadDir(tmp_path / "uploads")
    first = folder.stage([Upload("a.txt", b"first version")], max_bytes=1000)
    folder.commit(first, failed=set())
    second = folder.stage([Upload("a.txt", b"second version")], max_bytes=1000)
    assert (tmp_path / "uploads" / "a.txt").read_bytes() == b"second version"
    folder.commit(second, failed={"a.txt"})
    assert (tmp_path / "uploads" / "a.txt").read_bytes() == b"first version"
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["a.txt"]


def test_nothing_is_written_when_one_file_is_bad(tmp_path: Path) -> None:
    folder = UploadDir(tmp_path / "uploads")
    with pytest.raises(BadRequest):
        folder.stage([Upload("good.txt", b"fine"), Upload("bad.exe", b"MZ")], max_bytes=1000)
    assert not (tmp_path / "uploads").exists()


def test_discard_stays_inside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("keep me")
    folder = UploadDir(tmp_path / "uploads")
    folder.root.mkdir()
    assert not folder.discard(folder.root / "../outside.txt")
    assert not folder.discard(tmp_path / "outside.txt")
    assert (tmp_path / "outside.txt").exists()
    (folder.root / "mine.txt").write_text("an upload")
    assert folder.discard(folder.root / "mine.txt") and not (folder.root / "mine.txt").exists()


def test_the_page_file_picker_accepts_the_ingest_formats() -> None:
    """The page is static HTML, so it cannot read the registry: this keeps the two in step."""
    page = (web_dir() / "index.html").read_text(encoding="utf-8")
    accept = re.search(r'id="files"[^>]*accept="([^"]*)"', page, re.S)
    assert accept is not None
    assert accept.group(1).split(",") == [s for fmt in FORMATS for s in fmt.suffixes]
