"""OCR by the real Tesseract: a page rendered from text to an image, as a PNG and as a scanned
PDF page next to a page with a text layer; OCR off and Tesseract missing are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.document import Document
from ingest.embedding import Embedder
from ingest.errors import LoadError
from ingest.loaders import LoadOptions, load_document

SCANNED = [
    "The scanned decree names the gender focal point",
    "of each command. It takes effect in January.",
]
TYPED = "The typed cover page has a text layer of its own."


def render_scan(folder: Path) -> Path:
    """A small page of text rendered to a PNG image (no text layer), as a scanner would."""
    import pypdfium2
    from fpdf import FPDF

    pdf = FPDF(format=(160, 40))
    pdf.set_margin(6)
    pdf.add_page()
    pdf.set_font("helvetica", size=13)
    for row, line in enumerate(SCANNED):
        pdf.set_xy(6, 8 + row * 9)
        pdf.cell(150, 8, line)
    typed = folder / "typed.pdf"
    pdf.output(str(typed))
    document = pypdfium2.PdfDocument(str(typed))
    image = document[0].render(scale=200 / 72).to_pil().convert("L")
    document.close()
    path = folder / "decree.png"
    image.save(path)
    return path


def scanned_pdf(folder: Path, image: Path) -> Path:
    """Page 1 typed (a text layer), page 2 only the scanned image."""
    from fpdf import FPDF

    pdf = FPDF(format=(160, 40))
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    pdf.set_xy(6, 10)
    pdf.cell(150, 8, TYPED)
    pdf.add_page()
    pdf.image(str(image), x=0, y=0, w=160, h=40)
    path = folder / "decree.pdf"
    pdf.output(str(path))
    return path


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scans")
    png = render_scan(folder)
    return {"png": png, "pdf": scanned_pdf(folder, png)}


@pytest.fixture(scope="module")
def ocr_english() -> LoadOptions:
    return LoadOptions(ocr=True, ocr_languages="eng")  # one pack: the test reads English


@pytest.mark.parametrize("kind", ["png", "pdf"])
def test_scanned_page_is_read_by_ocr(
    scans: dict[str, Path], ocr_english: LoadOptions, kind: str
) -> None:
    document = load_document(scans[kind], f"decree.{kind}", ocr_english)
    assert "scanned decree names the gender focal point of each command" in document.text
    assert "It takes effect in January." in document.text
    _check_pages(document, expected_page="page 2" if kind == "pdf" else "page 1")
    if kind == "pdf":
        assert document.text.startswith(TYPED)  # the text layer of page 1 is kept as it is


def _check_pages(document: Document, expected_page: str) -> None:
    chunks = chunk_document(document, size=300, overlap=0)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
    assert {c.location for c in chunks if "focal point" in c.text} == {expected_page}


@pytest.mark.parametrize(
    ("kind", "message"),
    [("png", "only be read by OCR, which is turned off"), ("pdf", "OCR is turned off")],
)
def test_ocr_off_is_a_clear_error(scans: dict[str, Path], kind: str, message: str) -> None:
    path = scans[kind]
    if kind == "pdf":  # a PDF with no text at all: the scanned page alone
        from fpdf import FPDF

        pdf = FPDF(format=(160, 40))
        pdf.add_page()
        pdf.image(str(scans["png"]), x=0, y=0, w=160, h=40)
        path = path.with_name("scan-only.pdf")
        pdf.output(str(path))
    with pytest.raises(LoadError, match=message):
        load_document(path, path.name, LoadOptions(ocr=False))


def test_missing_tesseract_says_how_to_install_it(
    scans: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import ocr

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without the tesseract binary
    ocr._installed_languages.cache_clear()
    try:
        with pytest.raises(LoadError, match="apt-get install tesseract-ocr"):
            load_document(scans["png"], "decree.png")
    finally:
        ocr._installed_languages.cache_clear()


@pytest.mark.parametrize(("ocr", "added"), [(True, 1), (False, 0)], ids=["ocr-on", "ocr-off"])
def test_the_ocr_setting_reaches_the_ingest(
    scans: dict[str, Path], tmp_path: Path, embedder: Embedder, ocr: bool, added: int
) -> None:
    """ASSISTANT_OCR, through Settings and the service, decides whether a scan is read."""
    from assistant.service import Service
    from tests.conftest import make_settings

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "decree.png").write_bytes(scans["png"].read_bytes())
    settings = make_settings(tmp_path / "data", ocr=ocr, ocr_languages="eng")
    report = Service(settings, embedder=embedder).ingest([folder])
    assert report.added == added
    assert [f["error"] for f in report.failed] == (
        []
        if ocr
        else ["an image: its text can only be read by OCR, which is turned off (ASSISTANT_OCR)"]
    )
