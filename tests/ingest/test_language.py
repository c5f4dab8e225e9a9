"""Language detection, per-language search terms and Spanish sentence rules, then Spanish and
English documents side by side through the real ingest and search."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.service import Service
from assistant.text import query_tokens, tokens
from ingest.language import detect_language
from ingest.sentences import sentence_spans

LEY = """# Ley de Acceso de las Mujeres a una Vida Libre de Violencia

Artículo 1o. La presente ley tiene por objeto establecer la coordinación entre la Federación
y las entidades federativas para prevenir, sancionar y erradicar la violencia contra las
mujeres.

Artículo 2o. La Federación tomará las medidas presupuestales y administrativas para
garantizar el derecho de las mujeres a una vida libre de violencia. ¿Quién vigila su
cumplimiento? El Sistema Nacional, según el Art. 35. Lo preside la Secretaría de Gobernación.

Artículo 3o. La perspectiva de género es una visión científica, analítica y política sobre
las mujeres y los hombres.
"""

REPORT = """# Annual training report

The military legal course trained forty instructors on the law of armed conflict. Each
instructor completed a module on the protection of civilians and on gender perspectives.
"""


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (LEY, "es"),
        (REPORT, "en"),
        ("La Secretaría de la Defensa Nacional capacitó a sus asesoras de género.", "es"),
        ("Too short to tell", ""),
    ],
    ids=["spanish law", "english report", "one spanish sentence", "too short"],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Perspectiva de género", "es", ["perspect", "gener"]),
        ("perspectiva de genero", "es", ["perspect", "gener"]),  # typed without the accent
        ("las mujeres y los hombres", "es", ["mujer", "hombr"]),  # stop words dropped
        ("Who leads the council? It led", "en", ["lead", "council", "lead"]),
        ("Artículo", "en", ["articulo"]),  # a word, not "art" + "culo"
    ],
)
def test_tokens_per_language(text: str, language: str, expected: list[str]) -> None:
    assert tokens(text, language) == expected


def test_a_query_is_read_in_every_corpus_language() -> None:
    terms = query_tokens("violencia de género", {"en", "es"})
    assert "violenci" in terms and "gener" in terms and len(terms) == len(set(terms))
    assert query_tokens("women leaders", {"en"}) == tokens("women leaders")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Artículo 4o. La mujer y el hombre son iguales ante la ley. Ésta protege a la familia.",
            [
                "Artículo 4o. La mujer y el hombre son iguales ante la ley.",
                "Ésta protege a la familia.",
            ],
        ),
        (
            "¿Quién lo garantiza? El Estado, según el Art. 35. Lo preside la Lic. Pérez.",
            ["¿Quién lo garantiza?", "El Estado, según el Art. 35. Lo preside la Lic. Pérez."],
        ),
        (
            "Se aplica la fracc. III del artículo. ARTÍCULO 5.- Toda persona tiene derecho.",
            ["Se aplica la fracc. III del artículo.", "ARTÍCULO 5.- Toda persona tiene derecho."],
        ),
        (
            "Son obligaciones:\nI. Prevenir la violencia.\nII. Sancionar a los responsables.\n"
            "a) en el ámbito federal; b) en el local.",
            [
                "Son obligaciones:",
                "I. Prevenir la violencia.",
                "II. Sancionar a los responsables.",
                "a) en el ámbito federal; b) en el local.",
            ],
        ),
        ("Sec. 2. Title. (a) There is a rule.", ["Sec. 2.", "Title.", "(a) There is a rule."]),
    ],  # fmt: skip
    ids=["article number", "question and abbreviations", "fraction", "numbered list", "english"],
)
def test_sentences_with_spanish_legal_numbering(text: str, sentences: list[str]) -> None:
    assert [text[s:e] for s, e in sentence_spans(text)] == sentences


def test_spanish_and_english_documents_in_one_store(service: Service, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ley-acceso.md").write_text(LEY, encoding="utf-8")
    (docs / "training-report.md").write_text(REPORT, encoding="utf-8")
    service.ingest([docs])
    languages = {r.doc_id: r.language for r in service.sources()}
    assert languages == {"ley-acceso.md": "es", "training-report.md": "en"}
    # Spanish stems meet across inflections and missing accents
    for query in ("perspectiva de genero", "¿Quién preside el sistema?", "erradicar la violencia"):
        hits = service.retriever.search(query, 2, mode="bm25")
        assert hits and hits[0].chunk.doc_id == "ley-acceso.md", query
    hits = service.retriever.search("instructors trained on armed conflict", 2, mode="bm25")
    assert hits[0].chunk.doc_id == "training-report.md"
