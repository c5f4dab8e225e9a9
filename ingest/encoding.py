"""Bytes to text: Unicode when the bytes are Unicode, else the legacy encoding they are in.

Older government files (Mexican federal ones especially) are often Windows-1252 or Latin-1;
charset-normalizer (a dependency of requests, well kept) tells which encoding decodes them
cleanly. On short Western text several single-byte code pages decode equally cleanly and the
detector may name a Baltic or Central European one; among the equally clean candidates the
Western code page wins, since this corpus is English and Spanish.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from ingest.errors import LoadError

UTF8 = "utf-8"
# most likely first among code pages that decode the bytes equally cleanly
_WESTERN = ("cp1252", "iso8859_15", "latin_1")
_CLEAN_MARGIN = 0.01  # detector "chaos" within this of the best counts as equally clean


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # Python codec name, e.g. "utf-8", "utf-16", "cp1252"


def decode(data: bytes, declared: str | None = None) -> Decoded:
    """Unicode (BOM, evident UTF-16, or UTF-8), else ``declared`` (an HTML <meta> charset),
    else the encoding detected. Raises LoadError for binary data or bytes no encoding fits."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return Decoded(_strict(data, "utf-32"), "utf-32")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(_strict(data, "utf-16"), "utf-16")
    if len(data) >= 4 and b"\x00" in data[:4096]:
        sample = data[:4096]
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        half = len(sample) // 2
        if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
            return Decoded(_strict(data, "utf-16-le"), "utf-16-le")
        if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
            return Decoded(_strict(data, "utf-16-be"), "utf-16-be")
        raise LoadError(
            "binary content, not text; only text, Markdown, HTML, PDF, DOCX and images "
            "(PNG, JPEG, TIFF) load"
        )
    try:
        return Decoded(data.decode("utf-8-sig"), UTF8)
    except UnicodeDecodeError as exc:
        bad = exc.start
    if declared:
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            raise LoadError(
                f"the page declares an unknown charset {declared!r}; re-save it as UTF-8"
            ) from None
        return Decoded(_strict(data, name), name)
    return _detect(data, bad)


def decode_text(data: bytes, name: str = "") -> str:
    """The text of a text file, in whichever encoding it is (see ``decode``)."""
    return decode(data).text


def _detect(data: bytes, bad: int) -> Decoded:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoadError(
            f"not valid UTF-8 (bad byte at offset {bad}) and no other text encoding decodes "
            "it cleanly; re-save the file as UTF-8 and ingest it again"
        )
    best = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= best + _CLEAN_MARGIN]
    for encoding in _WESTERN:
        if any(encoding in m.could_be_from_charset for m in clean):
            try:
                return Decoded(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                continue
    return Decoded(str(clean[0]), clean[0].encoding)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not valid {encoding.replace('-sig', '').upper()} (bad byte at offset {exc.start}); "
            "re-save the file as UTF-8 and ingest it again"
        ) from None
