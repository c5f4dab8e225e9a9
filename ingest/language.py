"""The language a document is written in, so that search stems and drops stop words the way
that language needs (Spanish law and English reports live in one store).

py3langid (BSD-3-Clause) carries its model inside the wheel, needs only numpy and classifies a
page in well under a millisecond once loaded; it replaced nothing here (before, every text was
treated as English).
"""

from __future__ import annotations

import re
import threading
from typing import Any

_WORD = re.compile(r"[^\W\d_]{2,}")
_MIN_WORDS = 8  # below this a guess is noise: the document counts as unknown ("")
_SAMPLE_CHARS = 6000
_lock = threading.Lock()
_identifier: Any = None


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language ("en", "es", ...), or "" when it is too short to
    tell. Reads a sample from the start and the middle, so a long PDF costs no more than a page."""
    half = len(text) // 2
    sample = text[: _SAMPLE_CHARS // 2] + " " + text[half : half + _SAMPLE_CHARS // 2]
    if len(_WORD.findall(sample)) < _MIN_WORDS:
        return ""
    lang, _score = _model().classify(sample)
    return str(lang)


def _model() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            import py3langid

            py3langid.classify("warm up the bundled model")  # loads it once, under the lock
            _identifier = py3langid
        return _identifier
