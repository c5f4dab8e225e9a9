"""Titles and dates worth showing: metadata only when it is meaningful, else the headline.

Office suites and PDF generators fill the title field with their own defaults ("Word
Document", "Microsoft Word - informe.doc", "Untitled"), and old PDFs store octal escapes
("g\\351nero"); a reader would never call the document that.
"""

from __future__ import annotations

import re

from ingest.document import Block
from ingest.normalize import normalize_inline

MAX_TITLE_CHARS = 300
_DEFAULTS = re.compile(
    r"^(?:"
    r"(?:microsoft\s+)?(?:word|office\s+word|powerpoint|excel)\s*(?:document|presentation|"
    r"workbook)?\s*\d*"
    r"|documento(?:\s+de)?(?:\s+microsoft)?\s+(?:office\s+)?word\s*\d*"
    r"|presentaci[oó]n\s+de\s+(?:microsoft\s+)?powerpoint\s*\d*"
    r"|document\s*\d*|documento\s*\d*|untitled(?:\s+document)?\s*\d*|sin\s+t[ií]tulo\s*\d*"
    r"|no\s+title|title|t[ií]tulo|new\s+document|nuevo\s+documento|slide\s*\d+"
    r"|default|none|null|unknown|anonymous|\(anonymous\)|\d+"
    r")$",
    re.IGNORECASE,
)
# "Microsoft Word - informe.doc", "Microsoft PowerPoint - plan.pptx": the generator's label
_GENERATOR_PREFIX = re.compile(
    r"^(?:microsoft\s+(?:word|powerpoint|excel)|adobe\s+\w+|libreoffice|openoffice)\s*[-–:]",
    re.IGNORECASE,
)
_FILE_NAME = re.compile(
    r"(?:^[a-z]:\\|^/|\.(?:docx?|dotx?|rtf|odt|pdf|pptx?|xlsx?|txt|html?|indd|qxd|tmp|wpd))$",
    re.IGNORECASE,
)
_ESCAPED_BYTES = re.compile(r"\\(?:[0-3][0-7]{2}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4})|\ufffd")
_LETTER = re.compile(r"[^\W\d_]")


def meaningful_title(value: object) -> str:
    """``value`` as a title when a reader would call the document that, else ""."""
    if not isinstance(value, str):
        return ""
    title = normalize_inline(value)
    while len(title) > 1 and title[0] in "([" and title[-1] in ")]":  # "(Microsoft Word - x)"
        title = title[1:-1].strip()
    if (
        not title
        or len(title) > MAX_TITLE_CHARS
        or len(_LETTER.findall(title)) < 2
        or _DEFAULTS.match(title)
        or _GENERATOR_PREFIX.match(title)
        or _FILE_NAME.search(title)
        or _ESCAPED_BYTES.search(title)
    ):
        return ""
    return title


_SENTENCE_END = (".", ";", ",", ":", "!", "?")
_DATELINE = re.compile(r"\|")  # "News | Sept. 22, 2021": a section label and a date
MAX_HEADLINE_CHARS = 200


def headline(blocks: list[Block], look: int = 4) -> str:
    """The first heading; failing that, a headline-like line among the first ``look`` blocks
    of plain text: short, not a sentence, not a dateline ("News | Sept. 22, 2021")."""
    for block in blocks:
        if block.heading_level:
            title = meaningful_title(block.text)
            if title:
                return title
    for block in blocks[:look]:
        text = normalize_inline(block.text)
        if (
            10 <= len(text) <= MAX_HEADLINE_CHARS
            and not text.endswith(_SENTENCE_END)
            and not _DATELINE.search(text)
            and not text.lower().startswith(("by ", "por "))
        ):
            title = meaningful_title(text)
            if title:
                return title
    return ""


def choose_title(*candidates: object, fallback: str) -> str:
    """The first meaningful candidate, else ``fallback`` (the file name)."""
    for candidate in candidates:
        title = meaningful_title(candidate)
        if title:
            return title
    return fallback


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ][\d:.+\-Z ]*)?$")
# placeholders generators write for "no date": the Unix, Windows and DOS/zip epochs
_PLACEHOLDER_DATES = ("1970-01-01", "1601-01-01", "1980-01-01")
MIN_YEAR = 1800


def meaningful_date(value: object) -> str:
    """``value`` (a date, or text starting with an ISO date) as text when it can be the date
    the document was issued, else "": no placeholders, no impossible or far-future dates."""
    import datetime

    if isinstance(value, datetime.date):
        value = value.isoformat()
    if not isinstance(value, str):
        return ""
    text = value.strip()
    match = _DATE.match(text)
    if match is None:
        return text[:100] if re.search(r"\b(?:1[89]|20)\d{2}\b", text) else ""
    year = int(match.group(1))
    if not MIN_YEAR <= year <= datetime.date.today().year + 1:
        return ""
    if any(text.startswith(placeholder) for placeholder in _PLACEHOLDER_DATES):
        return ""
    return text[:100]
