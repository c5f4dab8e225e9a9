"""Markdown rendered to what a reader sees, by markdown-it-py (CommonMark with tables).

Emphasis and links become their text, images their alt text, inline HTML is dropped;
headings, list items and table rows stay blocks of their own, so that ``location`` and
sentence splitting see the structure. Bullets are shown as "•", numbered items keep their
number. Scraped pages often carry emphasis CommonMark cannot pair ("**Title. **Text");
the delimiters it leaves as text are removed, as a browser would not show them either.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.chrome import is_chrome
from ingest.document import Block, Document
from ingest.encoding import Decoded
from ingest.normalize import assemble
from ingest.titles import choose_title, headline, meaningful_date
from ingest.webpage import html_fragment_blocks

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_STRAY_STRONG = re.compile(r"\*{2,}")
_STRAY_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\w)|(?<=[\w.,;:!?])\*(?![\w*])")


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (a mapping between "---" lines at the top) and the body after it."""
    start = re.match(r"---[ \t]*\r?\n", text)
    if start is None:
        return {}, text
    end = re.search(r"^---[ \t]*\r?$", text[start.end() :], re.MULTILINE)
    if end is None:
        return {}, text
    raw = text[start.end() : start.end() + end.start()]
    body = text[start.end() + end.end() :]
    try:
        meta = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):  # a thematic break, not front matter: keep the text
        return {}, text
    return meta, body


def meta_text(value: Any) -> str:
    """A front-matter scalar as text; lists and mappings are ignored, not stringified (a YAML
    alias bomb is cheap to parse but expands to billions of items when printed)."""
    if isinstance(value, str | int | float | datetime.date) and not isinstance(value, bool):
        return str(value)[:1000]
    return ""


def _inline_lines(token: Token) -> Iterator[str]:
    """The visible text of an inline token; a hard line break starts a new line."""
    parts: list[str] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline", "text_special"):
            parts.append(child.content)
        elif kind == "softbreak":
            parts.append(" ")
        elif kind == "hardbreak" or (kind == "html_inline" and _BREAK.match(child.content)):
            yield _clean("".join(parts))
            parts = []
        elif kind == "image":
            parts.append(child.content)  # the alt text
        # link_open/close, em/strong open/close, html_inline: no visible text of their own
    yield _clean("".join(parts))


def _clean(text: str) -> str:
    return _STRAY_EMPHASIS.sub("", _STRAY_STRONG.sub("", text))


def markdown_blocks(body: str) -> list[Block]:
    """Blocks of rendered Markdown text, in reading order."""
    parser = _parser()
    tokens = parser.parse(body)
    blocks: list[Block] = []
    markers: list[str] = []  # the marker of each open list item, innermost last
    pending = ""  # a list marker waiting for the item's first paragraph
    row: list[str] = []
    heading = 0
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "heading_open":
            heading = int(token.tag[1])
        elif kind == "heading_close":
            heading = 0
        elif kind == "list_item_open":
            number = token.info
            markers.append(f"{number}{token.markup}" if number else "•")
            pending = markers[-1]
        elif kind == "list_item_close":
            markers.pop()
            pending = ""
        elif kind in ("tr_open",):
            row = []
        elif kind == "tr_close":
            blocks.append(Block(" | ".join(row)))
        elif kind == "inline" and index and tokens[index - 1].type in ("th_open", "td_open"):
            row.append(" ".join(line for line in _inline_lines(token) if line))
        elif kind == "inline":
            for line in _inline_lines(token):
                if not line.strip():
                    continue
                if pending:
                    line, pending = f"{pending} {line}", ""
                blocks.append(Block(line, heading_level=heading))
        elif kind in ("fence", "code_block"):
            blocks.append(Block(" ".join(token.content.splitlines())))  # verbatim
        elif kind == "html_block":
            # raw HTML (a table, or a stray <span> line that swallows the paragraph after
            # it): read as a page is, then any Markdown left in its text rendered
            for block in html_fragment_blocks(token.content):
                for inner in parser.parseInline(block.text):
                    blocks.extend(
                        Block(line, heading_level=block.heading_level)
                        for line in _inline_lines(inner)
                        if line.strip()
                    )
    return [b for b in blocks if not is_chrome(b.text)]


def load_markdown(path: Path, doc_id: str, decoded: Decoded) -> Document:
    meta, body = split_front_matter(decoded.text)
    blocks = markdown_blocks(body)
    return assemble(
        doc_id,
        blocks,
        title=choose_title(meta_text(meta.get("title")), headline(blocks), fallback=path.stem),
        source=meta_text(meta.get("source_url")) or meta_text(meta.get("url")) or str(path),
        date=meaningful_date(meta_text(meta.get("date"))),
    )
