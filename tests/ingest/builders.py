"""Builders for the ingest tests: real PDF/DOCX files, a small corpus, sync with test sizes."""

from __future__ import annotations

from pathlib import Path

from ingest.embedding import Embedder
from ingest.store import ChromaStore
from ingest.sync import IngestReport, sync

# Small chunks so every document of the small corpus has several of them.
CHUNK_SIZE = 300
CHUNK_OVERLAP = 60


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A real PDF with one text page per entry (fpdf2 core font, so Latin-1 text only)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


def write_docx(path: Path, items: list[tuple[str, str]], title: str = "") -> Path:
    """A real DOCX; items are ("h1".."h3", text), ("p", text) or ("table", "a|b;c|d")."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for kind, text in items:
        if kind.startswith("h"):
            document.add_heading(text, level=int(kind[1:]))
        elif kind == "table":
            rows = [row.split("|") for row in text.split(";")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path


SMALL_CORPUS = {
    "alpha.md": """---
title: Alpha Guide
date: 2023-05-01
source_url: https://example.gov/alpha
---
# Purpose

The alpha course trains gender advisors in planning. It runs for two weeks every spring.
Participants practise drafting annexes for operation orders. Each team presents a plan.

# Assessment

Students are assessed through a written exercise. The exercise covers the legal framework.
A final interview checks that every advisor can explain the national action plan.
""",
    "beta.txt": """Beta notes on the legal framework for women, peace and security.

The Security Council adopted resolution 1325 in October 2000. It calls for the participation
of women in peace processes. Later resolutions added measures against sexual violence.

The national strategy sets four lines of effort. Agencies report on progress every two years.
""",
    "gamma/delta.md": """# Delta Annex

Delta covers sanctions for conflict-related sexual violence. The Treasury designates people
who commit such abuses. Designated persons cannot use the United States financial system.
Visa restrictions apply to their family members as well. The State Department coordinates.
""",
}


def write_corpus(root: Path, files: dict[str, str] = SMALL_CORPUS) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run_sync(
    paths: list[Path],
    store: ChromaStore,
    embedder: Embedder,
    *,
    prune: bool = False,
    flush_at: int = 1024,
) -> IngestReport:
    return sync(
        paths,
        store,
        embedder,
        prune=prune,
        chunk_size=CHUNK_SIZE,
        chunk_overlap=CHUNK_OVERLAP,
        flush_at=flush_at,
    )


def chunk_state(store: ChromaStore) -> set[tuple[str, str, str, str]]:
    """Everything that identifies the stored chunks: (id, doc_id, doc_hash, text)."""
    return {(c.chunk_id, c.doc_id, c.doc_hash, c.text) for c in store.iter_chunks()}
