"""Legacy encodings: text, Markdown and HTML in Windows-1252/Latin-1 are decoded by detection,
and the ingest report names the encoding; only bytes no encoding fits are an error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.embedding import Embedder
from ingest.encoding import decode
from ingest.errors import LoadError
from ingest.loaders import load_document
from ingest.store import ChromaStore
from tests.ingest.builders import run_sync

SPANISH = (
    "La Secretaría de Gobernación publicó el “Informe anual” según el artículo 4o. de la "
    "Constitución. El niño y la niña tienen los mismos derechos — sin excepción.\n"
)
ENGLISH = "Résumé of the naïve café meeting in Bogotá; the attaché’s notes follow.\n"


@dataclass
class Case:
    name: str
    data: bytes
    text: str  # found in the loaded document
    encoding: str


CASES = [
    Case("informe.txt", SPANISH.encode("cp1252"), "el “Informe anual” según", "cp1252"),
    Case("latin1.txt", ENGLISH.replace("’", "'").encode("latin-1"), "naïve café", "cp1252"),
    Case("notas.md", ("# Informe\n\n" + SPANISH).encode("cp1252"), "La Secretaría", "cp1252"),
    Case(
        "pagina.html",
        f"<html><body><h1>Informe</h1><p>{SPANISH}</p></body></html>".encode("cp1252"),
        "artículo 4o. de la Constitución",
        "cp1252",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_legacy_encoded_file_loads_with_its_encoding_recorded(tmp_path: Path, case: Case) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.data)
    document = load_document(path, case.name)
    assert case.text in document.text
    assert document.metadata["encoding"] == case.encoding


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("café".encode(), "utf-8"),
        ("café".encode("utf-16"), "utf-16"),
        ("Привет, это проверка кодировки текста на русском языке.".encode("cp1251"), "cp1251"),
    ],
    ids=["utf8", "utf16", "cyrillic"],
)
def test_decode_names_the_encoding(data: bytes, encoding: str) -> None:
    assert decode(data).encoding == encoding


def test_utf8_file_has_no_encoding_note(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text(SPANISH, encoding="utf-8")
    assert "encoding" not in load_document(path, "plain.txt").metadata


def test_bytes_no_encoding_fits_are_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(LoadError, match="no other text encoding decodes it cleanly"):
        load_document(path, "noise.txt")


def test_ingest_report_names_the_encoding(
    tmp_path: Path, store: ChromaStore, embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "informe.txt").write_bytes(SPANISH.encode("cp1252"))
    (folder / "plain.txt").write_text(ENGLISH, encoding="utf-8")
    report = run_sync([folder], store, embedder)
    assert report.added == 2, report.failed
    assert report.as_dict()["encodings"] == [
        {"path": str(folder / "informe.txt"), "encoding": "cp1252"}
    ]
