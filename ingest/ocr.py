"""OCR by Tesseract (Debian's tesseract-ocr with the eng and spa packs) through pytesseract.

pytesseract, not ocrmypdf: it is a thin wrapper around the tesseract binary, so a page
image goes in and text comes out, page by page. Only the pages of a PDF that have no text
are read (a mixed PDF keeps its text layer), their page numbers stay theirs, and PNG, JPEG
and TIFF files take the same path. ocrmypdf would rewrite the whole PDF with a new text
layer (bringing pikepdf, and Ghostscript for most of its work) for us to parse again.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ingest.document import Block, Document
from ingest.errors import LoadError
from ingest.normalize import assemble
from ingest.titles import choose_title, headline

INSTALL = (
    "install Tesseract (Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-eng "
    "tesseract-ocr-spa; macOS: brew install tesseract tesseract-lang), or turn OCR off "
    "(ASSISTANT_OCR=false) to skip files that have no text"
)
MAX_IMAGE_PIXELS = 80_000_000  # an A0 poster at 300 dpi; larger is a decompression bomb


@functools.cache
def _installed_languages() -> frozenset[str]:
    import pytesseract

    try:
        return frozenset(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError:
        raise LoadError(f"this file needs OCR, and Tesseract is not installed: {INSTALL}") from None


def languages(wanted: str) -> str:
    """The wanted Tesseract languages ("eng+spa") that are installed, "+"-joined."""
    try:
        installed = _installed_languages()
    except LoadError:
        _installed_languages.cache_clear()  # installed later in this process: look again
        raise
    found = [lang for lang in wanted.split("+") if lang in installed]
    if not found:
        raise LoadError(
            f"OCR needs the Tesseract language data for {wanted!r}, and none is installed "
            f"(installed: {', '.join(sorted(installed)) or 'none'}); {INSTALL}"
        )
    return "+".join(found)


def read_image(image: Any, wanted: str = "eng+spa") -> str:
    """The text Tesseract reads in a PIL image."""
    import pytesseract

    langs = languages(wanted)
    try:
        return str(pytesseract.image_to_string(image, lang=langs, config="--psm 3"))
    except pytesseract.TesseractNotFoundError:
        _installed_languages.cache_clear()
        raise LoadError(f"this file needs OCR, and Tesseract is not installed: {INSTALL}") from None
    except pytesseract.TesseractError as exc:
        raise LoadError(f"OCR failed ({exc.message.strip()[:200]})") from None


def load_image(path: Path, doc_id: str, data: bytes, wanted: str) -> Document:
    """A scanned page as a PNG, JPEG or TIFF file (every frame of a TIFF is a page)."""
    import io

    from PIL import Image, ImageSequence, UnidentifiedImageError

    from ingest.layout import scanned_blocks

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    blocks: list[Block] = []
    try:
        with Image.open(io.BytesIO(data)) as image:
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                blocks.extend(scanned_blocks(read_image(frame.convert("RGB"), wanted), number))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise LoadError(f"not a readable image ({exc}); re-save it as PNG or JPEG") from None
    if not any(b.text.strip() for b in blocks):
        raise LoadError("OCR found no text in the image")
    return assemble(
        doc_id, blocks, title=choose_title(headline(blocks), fallback=path.stem), source=str(path)
    )
