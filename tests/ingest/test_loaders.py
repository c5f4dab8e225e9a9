"""Each loader on a real file of its format: title, metadata, visible text and locations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.document import Document
from ingest.loaders import (
    FORMATS,
    SUPPORTED_SUFFIXES,
    LoadError,
    decode_text,
    format_for,
    load_document,
)
from tests.ingest.builders import write_docx, write_pdf


@dataclass
class Case:
    name: str
    build: Callable[[Path], Path]
    title: str
    contains: list[str]
    absent: list[str] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)  # snippet -> its chunk's location
    date: str = ""
    source: str | None = None  # None: the file path


def _text(path: Path) -> Path:
    path.write_text(
        "The training course ran in Mexico City for two weeks and trained\n"
        "military lawyers in international humanitarian law.\n"
        "\n"
        "Second paragraph:   spaces\tand tabs collapse.\n",
        encoding="utf-8",
    )
    return path


def _markdown(path: Path) -> Path:
    path.write_text(
        "---\n"
        "title: 'Front Matter Title'\n"
        "date: 2023-06-29\n"
        "source_url: https://example.gov/wps-strategy\n"
        "---\n"
        "# Strategy\n"
        "\n"
        "The strategy has **four** lines of effort and a [national plan](https://x.gov/plan).\n"
        "\n"
        "## Reporting\n"
        "\n"
        "Agencies report every two years.\n",
        encoding="utf-8",
    )
    return path


def _markdown_structures(path: Path) -> Path:
    path.write_text(
        "Setext Title\n"
        "============\n"
        "\n"
        "Intro paragraph.\n"
        "\n"
        "---\n"
        "\n"
        "Part B\n"
        "------\n"
        "\n"
        "```bash\n"
        "# a shell comment, not a heading\n"
        "pip install it\n"
        "```\n"
        "\n"
        "* * *\n"
        "\n"
        "Tail text with *emphasis*.\n",
        encoding="utf-8",
    )
    return path


def _html(path: Path) -> Path:
    path.write_text(
        "<!doctype html><html><head><title>Fact Sheet: Sanctions</title>"
        "<style>.hidden { color: red } STYLETEXT</style>"
        "<script>var secret = 'SCRIPTTEXT';</script></head>"
        "<body><nav>NAVTEXT <a href='/'>Home</a></nav>"
        "<header>HEADERTEXT</header>"
        "<h1>Sanctions <em>announced</em></h1>"
        "<p>The Treasury <b>designated</b> four people. See <a href='/x'>the list</a>.</p>"
        "<!-- COMMENTTEXT -->"
        "<h2>Visa restrictions</h2>"
        "<ul><li>State restricts visas.</li><li>Family members are covered.</li></ul>"
        "<footer>FOOTERTEXT</footer><script>SCRIPTTEXT2()</script></body></html>",
        encoding="utf-8",
    )
    return path


def _pdf(path: Path) -> Path:
    return write_pdf(
        path,
        [
            "The first page introduces the Women, Peace, and Security Act of 2017.",
            "The second page lists the reporting duties of the Secretary of State.",
        ],
        title="WPS Act Summary",
    )


def _docx(path: Path) -> Path:
    return write_docx(
        path,
        [
            ("h1", "Course Overview"),
            ("p", "The course covers international humanitarian law."),
            ("h2", "Module One"),
            ("p", "Module one studies resolution 1325."),
            ("table", "Week|Topic;1|Protection"),
            ("h1", "Annex"),
            ("p", "The annex lists the instructors."),
        ],
    )


CASES = [
    Case(
        "notes.txt",
        _text,
        title="notes",
        contains=[
            "The training course ran in Mexico City for two weeks and trained military lawyers",
            "Second paragraph: spaces and tabs collapse.",
        ],
    ),
    Case(
        "strategy.md",
        _markdown,
        title="Front Matter Title",
        date="2023-06-29",
        source="https://example.gov/wps-strategy",
        contains=["The strategy has four lines of effort and a national plan."],
        absent=["**", "https://x.gov/plan", "title:", "---"],
        locations={
            "four lines of effort": "Strategy",
            "Agencies report every two years.": "Strategy > Reporting",
        },
    ),
    Case(
        "readme.md",
        _markdown_structures,
        title="Setext Title",
        contains=[
            "Intro paragraph.",
            "# a shell comment, not a heading pip install it",
            "Tail text with emphasis.",
        ],
        absent=["===", "---", "```", "* * *"],
        locations={
            "Intro paragraph.": "Setext Title",
            "pip install it": "Setext Title > Part B",
            "Tail text": "Setext Title > Part B",
        },
    ),
    Case(
        "factsheet.html",
        _html,
        title="Fact Sheet: Sanctions",
        contains=[
            "The Treasury designated four people. See the list.",
            "State restricts visas.",
            "Sanctions announced",
        ],
        absent=[
            "STYLETEXT",
            "SCRIPTTEXT",
            "NAVTEXT",
            "HEADERTEXT",
            "FOOTERTEXT",
            "COMMENTTEXT",
            "Home",
            "<",
        ],
        locations={
            "designated four people": "Sanctions announced",
            "Family members are covered.": "Sanctions announced > Visa restrictions",
        },
    ),
    Case(
        "wps-act.pdf",
        _pdf,
        title="WPS Act Summary",
        contains=["Women, Peace, and Security Act of 2017", "reporting duties of the Secretary"],
        locations={"introduces the Women": "page 1", "reporting duties": "page 2"},
    ),
    Case(
        "course.docx",
        _docx,
        title="Course Overview",
        contains=["The course covers international humanitarian law.", "Week | Topic"],
        locations={
            "international humanitarian law": "Course Overview",
            "resolution 1325": "Course Overview > Module One",
            "1 | Protection": "Course Overview > Module One",
            "lists the instructors": "Annex",
        },
    ),
]


def _load(tmp_path: Path, case: Case) -> tuple[Path, Document]:
    path = case.build(tmp_path / case.name)
    return path, load_document(path, case.name)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_loader_reads_title_metadata_and_visible_text(tmp_path: Path, case: Case) -> None:
    path, document = _load(tmp_path, case)
    assert document.doc_id == case.name
    assert document.title == case.title
    assert document.date == case.date
    assert document.source == (case.source if case.source is not None else str(path))
    for snippet in case.contains:
        assert snippet in document.text
    for snippet in case.absent:
        assert snippet not in document.text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_loader_keeps_locations_in_chunks(tmp_path: Path, case: Case) -> None:
    _, document = _load(tmp_path, case)
    chunks = chunk_document(document, size=200, overlap=0)
    for snippet, location in case.locations.items():
        holders = [c for c in chunks if snippet in c.text]
        assert holders, f"{snippet!r} is in no chunk"
        assert {c.location for c in holders} == {location}


def test_pdf_pages_never_share_a_chunk(tmp_path: Path) -> None:
    document = load_document(_pdf(tmp_path / "two-pages.pdf"), "two-pages.pdf")
    chunks = chunk_document(document, size=900, overlap=150)
    assert [c.location for c in chunks] == ["page 1", "page 2"]
    assert "second page" in chunks[1].text and "second page" not in chunks[0].text


def test_markdown_without_front_matter_takes_first_heading_as_title(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("Intro line.\n\n## The Real Title\n\nBody text here.\n", encoding="utf-8")
    document = load_document(path, "plain.md")
    assert document.title == "The Real Title"
    assert document.source == str(path)


def test_markdown_opening_rule_is_not_taken_for_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "rules.md"
    path.write_text("---\n\nAn intro between rules.\n\n---\n\nThe body.\n", encoding="utf-8")
    document = load_document(path, "rules.md")
    assert document.text == "An intro between rules.\n\nThe body."
    assert document.title == "rules"


@pytest.mark.parametrize("name", ["diagram.xyz", "slides.pptx", "Makefile", "archive.tar.gz"])
def test_unsupported_type_is_a_load_error_naming_the_type(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("some content", encoding="utf-8")
    with pytest.raises(LoadError) as info:
        load_document(path, name)
    message = str(info.value)
    assert message.startswith("unsupported file type")
    assert (Path(name).suffix or "(none)") in message
    assert all(suffix in message for suffix in SUPPORTED_SUFFIXES)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain ascii", "plain ascii"),
        ("caf\u00e9".encode(), "caf\u00e9"),
        (b"\xef\xbb\xbf" + b"with BOM", "with BOM"),
        ("UTF-16 \u00e9".encode("utf-16"), "UTF-16 \u00e9"),  # BOM + little endian
        (b"\xfe\xff" + "big endian \u00e9".encode("utf-16-be"), "big endian \u00e9"),
        ("no BOM here, but UTF-16".encode("utf-16-le"), "no BOM here, but UTF-16"),
        ("UTF-32 \u00e9".encode("utf-32"), "UTF-32 \u00e9"),
    ],
    ids=["ascii", "utf8", "utf8-bom", "utf16-bom", "utf16be-bom", "utf16le-sniffed", "utf32"],
)
def test_decode_text_accepts_unicode_encodings(data: bytes, expected: str) -> None:
    assert decode_text(data, "f.txt") == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(range(128, 256)) * 4, "not valid UTF-8 (bad byte at offset 0) and no other"),
        (b"\xff\xfeA\x00B", "not valid UTF-16"),  # odd length after a UTF-16 BOM
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "binary content"),
    ],
    ids=["no-encoding-fits", "utf16-truncated", "binary"],
)
def test_decode_text_rejects_other_bytes_with_a_load_error(data: bytes, message: str) -> None:
    with pytest.raises(LoadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_text(data, "f.txt")


@pytest.mark.parametrize(
    "head",
    [
        '<meta charset="windows-1252">',
        '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
    ],
    ids=["meta-charset", "http-equiv"],
)
def test_html_in_its_declared_legacy_charset_loads(tmp_path: Path, head: str) -> None:
    page = f"<html><head>{head}<title>Caf\u00e9 news</title></head><body><p>R\u00e9sum\u00e9.</p>"
    path = tmp_path / "legacy.html"
    path.write_bytes(page.encode("latin-1"))
    document = load_document(path, "legacy.html")
    assert (document.title, document.text) == ("Caf\u00e9 news", "R\u00e9sum\u00e9.")


def test_html_in_an_unknown_declared_charset_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "legacy.html"
    path.write_bytes('<meta charset="no-such-codec"><p>caf\u00e9</p>'.encode("latin-1"))
    with pytest.raises(LoadError, match="unknown charset 'no-such-codec'"):
        load_document(path, "legacy.html")


def test_each_suffix_names_exactly_one_format() -> None:
    suffixes = [suffix for fmt in FORMATS for suffix in fmt.suffixes]
    assert len(suffixes) == len(set(suffixes)) and set(suffixes) == SUPPORTED_SUFFIXES
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)
    for fmt in FORMATS:
        assert all(format_for(f"Report{suffix.upper()}") is fmt for suffix in fmt.suffixes)
    assert format_for("slides.pptx") is None and format_for("Makefile") is None


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("a.pdf", b"<html>not a pdf</html>", "no %PDF header"),
        ("a.docx", b"{\\rtf1 not a zip}", "not a ZIP package"),
        ("a.md", b"\xff\xfe\x00\xd8\x00" * 50, "UTF-8"),
        ("a.pdf", b"%PDF-1.7 ...", None),
        ("a.docx", b"PK\x03\x04...", None),
        ("a.md", b"# fine", None),
        ("a.png", b"anything: an image has no sniff", None),
    ],
)
def test_a_format_sniffs_bytes_that_are_not_it(name: str, data: bytes, problem: str | None) -> None:
    fmt = format_for(name)
    assert fmt is not None
    found = fmt.problem(data, name)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
