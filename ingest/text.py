"""Plain text: paragraphs from blank lines and wrapped lines, and the headline as the title."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.chrome import drop_chrome_lines
from ingest.document import Block, Document
from ingest.encoding import Decoded
from ingest.normalize import assemble
from ingest.sentences import is_list_item
from ingest.titles import choose_title, headline

_BLANK = re.compile(r"\n\s*\n")


def paragraph_blocks(text: str, page: int | None = None) -> list[Block]:
    """Split plain text into blocks. Blank lines separate blocks; within a paragraph, wrapped
    lines are joined, while a list item, a hard break (two trailing spaces) or a short line
    that ends a sentence starts a new block."""
    blocks: list[Block] = []
    for para in _BLANK.split(text):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines:
            continue
        width = max(len(ln.rstrip()) for ln in lines)
        current: list[str] = []
        for index, line in enumerate(lines):
            if current and _starts_block(lines[index - 1], line, width):
                blocks.append(Block(" ".join(current), page=page))
                current = []
            current.append(line.strip())
        blocks.append(Block(" ".join(current), page=page))
    return blocks


def _starts_block(previous: str, line: str, width: int) -> bool:
    if is_list_item(line) or previous.endswith("  ") or width < 40:
        return True
    prev = previous.rstrip()
    return len(prev) < 0.7 * width and prev.endswith((".", ":", ";", "!", "?"))


def load_text(path: Path, doc_id: str, decoded: Decoded) -> Document:
    blocks = paragraph_blocks(drop_chrome_lines(decoded.text))
    return assemble(
        doc_id, blocks, title=choose_title(headline(blocks), fallback=path.stem), source=str(path)
    )
