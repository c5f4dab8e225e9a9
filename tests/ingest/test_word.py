"""DOCX as Word shows it: tracked insertions in, deletions out, tables in reading order,
footnotes after the paragraph that cites them, and no "Word Document" title."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.document import Document
from ingest.loaders import load_document

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
INS = '<w:ins w:id="{id}" w:author="Editor" w:date="2024-01-05T10:00:00Z">{runs}</w:ins>'
DEL = (
    '<w:del w:id="{id}" w:author="Editor" w:date="2024-01-05T10:00:00Z">'
    '<w:r><w:delText xml:space="preserve">{text}</w:delText></w:r></w:del>'
)


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def _paragraph(*pieces: str, style: str = "") -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p {W_NS}>{props}{''.join(pieces)}</w:p>"


def _footnote_ref(note_id: int) -> str:
    return (
        '<w:r><w:rPr><w:rStyle w:val="FootnoteReference"/></w:rPr>'
        f'<w:footnoteReference w:id="{note_id}"/></w:r>'
    )


FOOTNOTES = (
    f"<w:footnotes {W_NS}>"
    '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
    '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/>'
    "</w:r></w:p></w:footnote>"
    '<w:footnote w:id="1"><w:p><w:r><w:t>Fellowship rules of 2023, section 4.</w:t></w:r></w:p>'
    "</w:footnote></w:footnotes>"
)


def write_tracked_docx(path: Path) -> Path:
    """A real DOCX with tracked changes, a table, a footnote and the default title."""
    import docx
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml

    document = docx.Document()
    document.core_properties.title = "Word Document"
    body = document.element.body
    sect = body[-1]  # the section properties stay last
    for xml in [
        _paragraph(_run("Fellowship Policy"), style="Heading1"),
        _paragraph(
            _run("All "),
            INS.format(id=1, runs=_run("RIIS ")),
            _run("Fellows attend the "),
            DEL.format(id=2, text="former "),
            _run("orientation week."),
            _footnote_ref(1),
        ),
        _paragraph(
            INS.format(
                id=3, runs=_run("Inserted passages are answerable: the stipend is 900 dollars.")
            )
        ),
        _paragraph(
            DEL.format(id=4, text="A deleted sentence about the old stipend of 500 dollars.")
        ),
        _paragraph(_run("Schedule"), style="Heading2"),
    ]:
        sect.addprevious(parse_xml(xml))
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Week", "Topic"), ("1", "Protection")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    sect.addprevious(table._tbl)
    sect.addprevious(parse_xml(_paragraph(_run("After the table comes the closing note."))))
    notes = Part(
        PackURI("/word/footnotes.xml"), CT.WML_FOOTNOTES, FOOTNOTES.encode(), document.part.package
    )
    document.part.relate_to(notes, RT.FOOTNOTES)
    document.save(str(path))
    return path


@pytest.fixture
def tracked(tmp_path: Path) -> Document:
    return load_document(write_tracked_docx(tmp_path / "policy.docx"), "policy.docx")


@pytest.mark.parametrize(
    "shown",
    [
        "All RIIS Fellows attend the orientation week.",  # insertion in, deletion out
        "Inserted passages are answerable: the stipend is 900 dollars.",
        "1 Fellowship rules of 2023, section 4.",  # the footnote, after its paragraph
        "Week | Topic",
        "1 | Protection",
    ],
)
def test_accepted_view_is_what_word_shows(tracked: Document, shown: str) -> None:
    assert shown in tracked.text


@pytest.mark.parametrize("hidden", ["former", "500 dollars", "deleted sentence"])
def test_deletions_are_out(tracked: Document, hidden: str) -> None:
    assert hidden not in tracked.text


def test_reading_order_locations_and_title(tracked: Document) -> None:
    text = tracked.text
    order = ["Fellowship Policy", "All RIIS", "1 Fellowship rules", "Schedule", "Week | Topic"]
    assert [text.index(s) for s in order] == sorted(text.index(s) for s in order)
    assert text.index("1 | Protection") < text.index("closing note")
    assert tracked.title == "Fellowship Policy"  # not the default "Word Document"
    chunks = chunk_document(tracked, size=200, overlap=0)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    assert {c.location for c in chunks if "RIIS" in c.text} == {"Fellowship Policy"}
    assert {c.location for c in chunks if "Protection" in c.text} == {
        "Fellowship Policy > Schedule"
    }


def test_a_real_core_title_is_kept(tmp_path: Path) -> None:
    from tests.ingest.builders import write_docx

    path = write_docx(tmp_path / "c.docx", [("h1", "Heading"), ("p", "Body.")], title="Plan 2024")
    assert load_document(path, "c.docx").title == "Plan 2024"


LEGAL_NUMBERING = (
    f'<w:abstractNum {W_NS} w:abstractNumId="90">'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
    '<w:lvlText w:val="Artículo %1.-"/></w:lvl>'
    '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/>'
    '<w:lvlText w:val="%2)"/></w:lvl>'
    '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/>'
    '<w:lvlText w:val="%3."/></w:lvl></w:abstractNum>'
)


def _numbered(text: str, level: int) -> str:
    return _paragraph(
        f'<w:pPr><w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr></w:pPr>',
        _run(text),
    )


def test_list_and_article_numbers_are_shown_as_word_draws_them(tmp_path: Path) -> None:
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    document.add_paragraph("A numbered step.", style="List Number")
    document.add_paragraph("Another numbered step.", style="List Number")
    document.add_paragraph("A bulleted point.", style="List Bullet")
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(LEGAL_NUMBERING))
    numbering.append(parse_xml(f'<w:num {W_NS} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    sect = document.element.body[-1]
    for text, level in [
        ("La ley es de orden público.", 0),
        ("Su objeto es prevenir la violencia.", 0),
        ("en el ámbito familiar;", 1),
        ("en el ámbito laboral;", 1),
        ("Fracción primera.", 2),
        ("Las autoridades la aplican.", 0),
    ]:
        sect.addprevious(parse_xml(_numbered(text, level)))
    document.save(str(tmp_path / "ley.docx"))
    text = load_document(tmp_path / "ley.docx", "ley.docx").text
    assert text.split("\n\n") == [
        "1. A numbered step.",
        "2. Another numbered step.",
        "• A bulleted point.",
        "Artículo 1.- La ley es de orden público.",
        "Artículo 2.- Su objeto es prevenir la violencia.",
        "a) en el ámbito familiar;",
        "b) en el ámbito laboral;",
        "I. Fracción primera.",
        "Artículo 3.- Las autoridades la aplican.",
    ]
