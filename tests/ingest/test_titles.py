"""Titles and dates from metadata only when meaningful, else the headline or first heading,
else the file name: generator defaults, file names and escaped bytes are not titles."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.titles import meaningful_date, meaningful_title


@pytest.mark.parametrize(
    "value",
    [
        "Word Document",
        "Microsoft Word Document",
        "Documento de Microsoft Word",
        "Presentación de PowerPoint",
        "Microsoft Word - informe_final.doc",
        "(Microsoft Word - La perspectiva de g\\351nero _Lamas_.doc)",
        "Untitled",
        "Sin título",
        "Document1",
        "C:\\Users\\ana\\Desktop\\borrador.docx",
        "informe.pdf",
        "La perspectiva de g\ufffdnero",
        "12",
        "",
        "   ",
        None,
    ],
)
def test_generator_defaults_are_not_titles(value: object) -> None:
    assert meaningful_title(value) == ""


@pytest.mark.parametrize(
    "value",
    [
        "Women, Peace, and Security Act of 2017",
        "Ley General de Acceso de las Mujeres a una Vida Libre de Violencia",
        "La perspectiva de género",
        "FACT SHEET: U.S. Strategy on WPS",
        "Word of the Day: Resilience",
    ],
)
def test_real_titles_are_kept(value: str) -> None:
    assert meaningful_title(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime.date(2023, 6, 29), "2023-06-29"),
        ("2024-06-17", "2024-06-17"),
        ("2021-09-22T10:00:00-06:00", "2021-09-22T10:00:00-06:00"),
        ("June 29, 2023", "June 29, 2023"),
        ("1970-01-01", ""),
        ("1601-01-01T00:00:00Z", ""),
        ("0001-01-01", ""),
        ("9999-12-31", ""),
        ("TBD", ""),
    ],
)
def test_dates_only_when_meaningful(value: object, expected: str) -> None:
    assert meaningful_date(value) == expected


BANNERED = "\n".join(
    [
        "An official website of the United States government",
        "Here's how you know",
        "A .mil website belongs to an official U.S. Department of Defense organization in the "
        "United States.",
        "A lock (lock ) or https:// means you've safely connected to the .mil website. Share "
        "sensitive information only on official, secure websites.",
        "",
        "News | Sept. 22, 2021",
        "",
        "USNORTHCOM and U.S. institutes deliver training to Mexican Army and Mexican Navy",
        "",
        "By U.S. Northern Command",
        "",
        "Gender advisors from U.S. Northern Command joined a team from the Defense Institute of",
        "International Legal Studies to deliver training in Mexico City.",
    ]
)


@pytest.mark.parametrize(
    ("name", "content", "title"),
    [
        (
            "usnorthcom-wps-training-2021.txt",
            BANNERED,
            "USNORTHCOM and U.S. institutes deliver training to Mexican Army and Mexican Navy",
        ),
        ("notes-2023.txt", "The course ran for two weeks in Mexico City.\n", "notes-2023"),
        ("plan.md", "---\ntitle: Untitled\n---\nIntro.\n\n# The Plan\n\nBody.\n", "The Plan"),
        (
            "page.html",
            "<title>Word Document</title><h1>Annual Report</h1><p>Body.</p>",
            "Annual Report",
        ),
    ],
    ids=["text-headline", "text-file-name", "markdown-heading", "html-heading"],
)
def test_title_falls_back_to_headline_then_file_name(
    tmp_path: Path, name: str, content: str, title: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    document = load_document(path, name)
    assert document.title == title
    assert "official website" not in document.text and "how you know" not in document.text


def test_placeholder_front_matter_date_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "memo.md"
    path.write_text("---\ntitle: Memo\ndate: 1970-01-01\n---\nBody.\n", encoding="utf-8")
    assert load_document(path, "memo.md").date == ""
