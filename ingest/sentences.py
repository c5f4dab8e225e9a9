"""Sentence boundaries with offsets, shared by chunking and the extractive answerer."""

from __future__ import annotations

import re

# a sentence ends before a capital (accented too), a number, an opening ¿ or ¡, or an inline
# enumerator: "Sec. 2. Title. (a) There is", "la ley. ¿Quién", "Artículo 2. Él"
_BOUNDARY = re.compile(r"[.!?][\"'”’»)\]]*\s+(?=[\"'“‘«(\[¿¡]?[A-Z0-9§ÁÉÍÓÚÑÜ]|\(?[a-z]{1,4}\)\s)")
# the number of a legal unit is not a sentence: "Artículo 4o. La mujer ...", "Art. 5. Toda"
_UNIT_NUMBER = re.compile(
    r"(?i)\b(?:art[íi]culos?|arts?\.|fracci[óo]n|fracc\.|numeral|inciso|cap[íi]tulo|"
    r"t[íi]tulo|secci[óo]n|regla)\s*[\w°º]{1,8}\.[-–]?$"
)
_INITIALISM = re.compile(r"^(?:[a-z]\.)*[a-z]$")  # "U.S.C", "e.g", a single initial
_MARKER = re.compile(r"\s*(?:[IVXLC]{1,6}|\d{1,3})\.")  # "II." opening a line: a list item

# The one list grammar, used by the loaders, chunking, the answerer and the verifier. An item
# opens with "(a)", "(iv)", "1.", "2)", a bullet, or the fracciones and incisos of
# Spanish-language law: "I.", "IV.-", "a)"; then whitespace.
_BULLETS = "-*+•·▪◦●■–"
LIST_ITEM = re.compile(
    rf"\s*(?:\(\w{{1,4}}\)|\d{{1,3}}[.)]|[IVXLC]{{1,6}}\.-?|[a-z]\)|[{_BULLETS}])\s+"
)
BULLET = re.compile(rf"[{_BULLETS}]\s+")  # a bullet, which a quote leaves out
# a sentence that introduces a list: "... the following:", "... shall include"
_LIST_INTRO = re.compile(r"(?::|\b(?:following|including|include|includes|are|as follows))\s*$")
_ENDS = (".", "!", "?", '"', "”", ")", ";")


def is_list_item(text: str, pos: int = 0, end: int | None = None) -> bool:
    """Whether a list item opens at ``pos`` of ``text`` (read no further than ``end``)."""
    return LIST_ITEM.match(text, pos, len(text) if end is None else end) is not None


def is_intro(sentence: str) -> bool:
    """A sentence that introduces a list ("... the following:") or is cut off before one."""
    stripped = sentence.rstrip()
    return bool(_LIST_INTRO.search(stripped)) or not stripped.endswith(_ENDS)


_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "no",
        "nos",
        "sec",
        "secs",
        "art",
        "arts",
        "para",
        "paras",
        "vol",
        "fig",
        "e.g",
        "i.e",
        "etc",
        "vs",
        "v",
        "gen",
        "lt",
        "col",
        "maj",
        "capt",
        "adm",
        "sgt",
        "cpl",
        "pvt",
        "cmdr",
        "rep",
        "sen",
        "gov",
        "pres",
        "amb",
        "inc",
        "co",
        "corp",
        "ltd",
        "dept",
        "est",
        "approx",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.n",
        "u.k",
        "d.c",
        "p.l",
        "pub",
        "l",
        # Spanish
        "sra",
        "sras",
        "srta",
        "dra",
        "lic",
        "ing",
        "mtro",
        "mtra",
        "núm",
        "num",
        "fracc",
        "fr",
        "frac",
        "párr",
        "pág",
        "págs",
        "ej",
        "cfr",
        "gral",
        "av",
        "admón",
        "depto",
        "dir",
        "ud",
        "uds",
        "cap",
        "tít",
        "ene",
        "abr",
        "ago",
        "dic",
    ]
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences in ``text[start:end]``, trimmed of spaces.

    Line breaks always end a sentence: list items and headings stand on their own lines.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        segment = line.group()
        cursor = 0
        for match in _BOUNDARY.finditer(segment):
            before = segment[cursor : match.start() + 1]
            if cursor == 0 and _MARKER.fullmatch(before):
                continue
            if _UNIT_NUMBER.search(before):
                continue
            last_word = re.search(r"([\w.]+)\.$", before)
            if last_word:
                word = last_word.group(1).lower()
                if word in _ABBREVIATIONS or _INITIALISM.match(word):
                    continue
            cut = match.end()
            _append(spans, text, line_start + cursor, line_start + cut)
            cursor = cut
        _append(spans, text, line_start + cursor, line_start + len(segment))
    return spans


def _append(spans: list[tuple[int, int]], text: str, s: int, e: int) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        spans.append((s, e))
