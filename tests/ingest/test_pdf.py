"""PDF text as a reader reads it: running headers, footers and page numbers dropped,
hyphenation across line ends joined, two columns read one after the other, tables as rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.document import Document
from ingest.loaders import load_document

LEFT = [
    "The first column opens the report on the",
    "training of gender advisors. It was held in",
    "Mexico City and covered the Inter-Ameri-",
    "can Court of Human Rights and its well-",
    "known standards for the protection of civi-",
    "lians in armed conflict.",
]
RIGHT = [
    "The second column follows the first one: it",
    "describes the assessment of the students,",
    "who wrote an exercise on the legal frame-",
    "work of the Women, Peace, and Security Act",
    "and presented a plan to the instructors.",
    "Every team passed the final review.",
]
PAGE_TWO = [
    "The second page explains the Constitu-",
    "ción of the course and its well-known reporting duties.",
]
HEADER = "Ley General de Acceso - Última reforma DOF 01-04-2024"


def write_report_pdf(path: Path) -> Path:
    """Three pages: a running header and footer with the page number on each, a two-column
    page with hyphenated line ends, a one-column page, and a ruled table."""
    from fpdf import FPDF

    class Report(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=8)
            self.set_xy(10, 8)
            self.cell(0, 5, HEADER)

        def footer(self) -> None:
            self.set_font("helvetica", size=8)
            self.set_xy(10, -12)
            self.cell(0, 5, f"{self.page_no()} de {{nb}}", align="C")

    pdf = Report(format="A4")
    pdf.set_title("Microsoft Word - informe_final.doc")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("helvetica", "B", size=14)
    pdf.set_xy(10, 22)
    pdf.cell(190, 8, "Training Report on Women, Peace and Security", align="C")
    pdf.set_font("helvetica", size=10)
    for column, lines in ((10, LEFT), (110, RIGHT)):
        for row, line in enumerate(lines):
            pdf.set_xy(column, 40 + row * 6)
            pdf.cell(90, 6, line)
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for row, line in enumerate(PAGE_TWO):
        pdf.set_xy(10, 30 + row * 7)
        pdf.cell(190, 7, line)
    pdf.add_page()
    pdf.set_xy(10, 30)
    pdf.cell(190, 7, "The table lists the modules of the course:")
    pdf.set_xy(10, 45)
    with pdf.table(col_widths=(30, 80), width=110, align="LEFT") as table:
        for cells in (("Week", "Topic"), ("1", "Protection of civilians"), ("2", "Reporting")):
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.output(str(path))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Document:
    path = write_report_pdf(tmp_path_factory.mktemp("pdf") / "report.pdf")
    return load_document(path, "report.pdf")


@pytest.mark.parametrize(
    "shown",
    [
        "The first column opens the report on the training of gender advisors.",
        "covered the Inter-American Court of Human Rights and its well-known standards for the "
        "protection of civilians in armed conflict.",
        "who wrote an exercise on the legal framework of the Women, Peace, and Security Act",
        "The second page explains the Constitución of the course",
        "Week | Topic",
        "1 | Protection of civilians",
        "2 | Reporting",
    ],
)
def test_pdf_text_reads_as_the_page_does(report: Document, shown: str) -> None:
    assert shown in report.text


@pytest.mark.parametrize("furniture", ["Ley General", "DOF", "1 de 3", "2 de 3", "3 de 3"])
def test_running_headers_footers_and_page_numbers_are_dropped(
    report: Document, furniture: str
) -> None:
    assert furniture not in report.text


def test_columns_are_read_one_after_the_other(report: Document) -> None:
    text = report.text
    assert text.index("armed conflict.") < text.index("The second column follows")
    assert "opens the report on the The second column" not in text


def test_title_locations_and_offsets(report: Document) -> None:
    assert (
        report.title == "Training Report on Women, Peace and Security"
    )  # not "Microsoft Word - ..."
    chunks = chunk_document(report, size=300, overlap=0)
    for chunk in chunks:
        assert report.text[chunk.start : chunk.end] == chunk.text
    assert {c.location for c in chunks if "Constitución" in c.text} == {"page 2"}
    assert {c.location for c in chunks if "Protection of civilians" in c.text} == {"page 3"}


def _pages_pdf(path: Path, pages: list[list[str]], footer: str) -> Path:
    """Pages of body lines from the top margin on, with ``footer`` ({n}, {nb}) at the bottom."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for row, line in enumerate(lines):
            pdf.set_xy(20, 20 + row * 6)
            pdf.cell(170, 6, line)
        if footer:
            pdf.set_xy(20, 280)
            pdf.cell(170, 6, footer.format(n=pdf.page_no(), nb=len(pages)), align="C")
    pdf.output(str(path))
    return path


@pytest.mark.parametrize(
    "footer", ["{n}", "- {n} -", "Page {n} of {nb}", "Página {n} de {nb}", "{n}/{nb}", "p. {n}"]
)
def test_page_numbers_in_their_usual_forms_are_dropped(tmp_path: Path, footer: str) -> None:
    pages = [
        ["The plan sets out five lines of effort.", "Each agency reports on its progress."],
        ["Participation comes first among them.", "Protection of women follows it."],
        ["Relief and recovery close the list.", "The council reviews the plan each year."],
    ]
    document = load_document(_pages_pdf(tmp_path / "n.pdf", pages, footer), "n.pdf")
    assert all(line in document.text for page in pages for line in page)
    assert not any(ch.isdigit() for ch in document.text), document.text  # no page number left


def test_a_sentence_that_opens_every_page_is_body_text_not_a_header(tmp_path: Path) -> None:
    opening = "The Secretary of State shall ensure that all appropriate personnel obtain"
    pages = [[opening, f"training in area number {n} of the statute."] for n in (1, 2, 3)]
    document = load_document(_pages_pdf(tmp_path / "s.pdf", pages, ""), "s.pdf")
    assert document.text.count(opening) == 3


def test_rotated_margin_stamp_is_left_out(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    pdf.set_xy(20, 30)
    pdf.cell(150, 6, "The upright body line is the text of the page.")
    with pdf.rotation(90, x=10, y=200):
        pdf.set_xy(10, 200)
        pdf.cell(100, 6, "arXiv:2401.00001 STAMP")
    pdf.output(str(tmp_path / "stamp.pdf"))
    document = load_document(tmp_path / "stamp.pdf", "stamp.pdf")
    assert document.text == "The upright body line is the text of the page."


def test_labels_and_values_side_by_side_are_read_row_by_row(tmp_path: Path) -> None:
    """An unruled list of labels and values has a gap down the page, but is no two columns."""
    from fpdf import FPDF

    words = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
    rows = [(f"Objective number {n}", f"the {word} line of effort") for n, word in enumerate(words)]
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    for row, (label, value) in enumerate(rows):
        pdf.set_xy(20, 40 + row * 6)
        pdf.cell(40, 6, label)
        pdf.set_xy(110, 40 + row * 6)
        pdf.cell(90, 6, value)
    pdf.output(str(tmp_path / "labels.pdf"))
    text = load_document(tmp_path / "labels.pdf", "labels.pdf").text
    for label, value in rows:
        assert f"{label} {value}" in text
