"""The language a document is written in, so that search stems and drops stop words the way
that language needs (Spanish law and English reports live in one store).

py3langid (BSD-3-Clause) carries its model inside the wheel, needs only numpy and classifies a
page in well under a millisecond once loaded (loading takes 0.7 s, so a text that is plainly
English or Spanish by its commonest function words is decided without it); it replaced nothing
here (before, every text was treated as English).
"""

from __future__ import annotations

import re
import threading
from typing import Any

_WORD = re.compile(r"[^\W\d_]{2,}")
# the commonest function words of the two languages of most documents here; a text where one
# set clearly outnumbers the other is decided without loading the model (0.7 s)
_EN_COMMON = "the of and to in is that for with on as by this are be was it from at which"
_ES_COMMON = "de la que el en los del las por con una para es se al lo como más su sus"
_COMMON = {"en": frozenset(_EN_COMMON.split()), "es": frozenset(_ES_COMMON.split())}
_CLEAR_HITS = 20
_CLEAR_RATIO = 4
_MIN_WORDS = 8  # below this a guess is noise: the document counts as unknown ("")
_SAMPLE_CHARS = 6000
_lock = threading.Lock()
_identifier: Any = None


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language ("en", "es", ...), or "" when it is too short to
    tell. Reads a sample from the start and the middle, so a long PDF costs no more than a page."""
    half = len(text) // 2
    sample = text[: _SAMPLE_CHARS // 2] + " " + text[half : half + _SAMPLE_CHARS // 2]
    words = [w.lower() for w in _WORD.findall(sample)]
    if len(words) < _MIN_WORDS:
        return ""
    hits = {lang: sum(w in common for w in words) for lang, common in _COMMON.items()}
    (first, most), (_, other) = sorted(hits.items(), key=lambda kv: -kv[1])
    if most >= _CLEAR_HITS and most >= _CLEAR_RATIO * other:
        return first
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
