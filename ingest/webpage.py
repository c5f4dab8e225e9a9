"""HTML: the page's main content as a reader sees it, without the site around it.

trafilatura (a maintained main-content extractor, which beats readability and jusText in
published comparisons) finds the article and drops navigation, banners, cookie boxes,
related links and footers; its XML keeps headings, paragraphs, list items and table rows,
which become blocks. Pages it finds nothing in (a fragment, a page nested thousands of tags
deep) fall back to a walk of the whole body without its nav/header/footer elements.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ingest.chrome import is_chrome
from ingest.document import Block, Document
from ingest.encoding import Decoded, decode
from ingest.errors import LoadError
from ingest.normalize import assemble
from ingest.titles import choose_title, headline, meaningful_date

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# class or id of a site-chrome element: the .gov banner, cookie consent, skip links, crumbs
_CHROME_NAME = re.compile(
    r"^(?:usa-banner|govbanner|gov-banner|site-banner|cookie.*|.*-cookie.*|consent.*|"
    r"gdpr.*|skip-?(?:nav|link|to-content).*|breadcrumbs?|share-?(?:bar|buttons?)|social-share)$",
    re.IGNORECASE,
)
# "Fact Sheet: Sanctions | The White House": the site name after a separator is no title
_SITE_SEPARATOR = re.compile(r"\s+(?:\||–|—|::|»)\s+")


def decode_html(data: bytes) -> Decoded:
    """Unicode as for text files; else the charset the page declares; else detection."""
    declared = _META_CHARSET.search(data[:4096])
    return decode(data, declared.group(1).decode("ascii").lower() if declared else None)


_HTML_DROP = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "template",
    "svg",
    "form",
    "button",
    "iframe",
]
# Phrasing elements continue the current paragraph; every other element starts a new block.
_HTML_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "label",
        "mark",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
    ]
)
_HTML_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])


_FLUSH = object()


def _item_marker(item: Any) -> str:
    parent = item.parent
    if parent is None or parent.name != "ol":
        return "•"
    return f"{len(item.find_previous_siblings('li')) + 1}."


def _walk(text: str) -> tuple[str, list[Block]]:
    """The <title> and the blocks of the whole page but its chrome elements: the fallback for
    pages the main-content extractor finds nothing in (tiny or very deeply nested ones)."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, Tag

    try:
        soup = BeautifulSoup(text, "html.parser")
        title_tag = soup.find("title")
        title = title_tag.get_text(" ", strip=True) if title_tag else ""
        for tag in soup.find_all(_HTML_DROP):
            tag.decompose()
        # chrome that is not in a nav/header/footer element
        for tag in [*soup.find_all(class_=_CHROME_NAME), *soup.find_all(id=_CHROME_NAME)]:
            tag.decompose()
        for tag in soup.find_all(["head", "title", "meta", "link"]):
            tag.decompose()
        for tag in soup.find_all("br"):
            tag.replace_with(" ")
        blocks: list[Block] = []
        # Text nodes carry their own spacing, so pieces are joined with nothing: "<b>a</b>."
        # must stay "a.", not "a ." (quotes are shown as verbatim source text).
        inline: list[str] = []

        def flush() -> None:
            joined = "".join(inline)
            if joined.strip() and joined.strip() not in ("•", "1."):
                blocks.append(Block(joined))
            inline.clear()

        # An explicit stack, not recursion: broken pages nest thousands of unclosed tags deep.
        # Each entry is a node to visit, or _FLUSH to end the block a block element opened.
        stack: list[Any] = [iter(soup.children)]
        while stack:
            top = stack[-1]
            if top is _FLUSH:
                stack.pop()
                flush()
                continue
            child = next(top, None)
            if child is None:
                stack.pop()
            elif isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, doctype or CDATA
                    inline.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.lower()
                if name in _HTML_HEADINGS:
                    flush()
                    heading = " ".join(child.get_text("").split())
                    if heading:
                        blocks.append(Block(heading, heading_level=int(name[1])))
                elif name in _HTML_INLINE:
                    stack.append(iter(child.children))
                elif name == "tr":  # a table row is one block: "cell | cell"
                    flush()
                    cells = [
                        " ".join(cell.get_text(" ").split())
                        for cell in child.find_all(["td", "th"], recursive=False)
                    ]
                    if any(cells):
                        blocks.append(Block(" | ".join(cells)))
                else:
                    flush()
                    if name == "li":
                        inline.append(_item_marker(child) + " ")
                    stack.extend([_FLUSH, iter(child.children)])
        flush()
    except RecursionError:
        raise LoadError("HTML nested too deeply to parse; simplify the file") from None
    return title, blocks


def html_fragment_blocks(fragment: str) -> list[Block]:
    """The blocks of a piece of HTML (in a Markdown file, say), tables as rows."""
    return _walk(fragment)[1]


def _page_title(title: str) -> str:
    """The page's own part of a <title>: sites put their name after the separator."""
    parts = [part for part in _SITE_SEPARATOR.split(title) if part.strip()]
    return parts[0] if parts else title


def _xml_text(element: Any) -> str:
    """Text of an element of trafilatura's XML; <lb/> line breaks become spaces."""
    pieces: list[str] = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            pieces.append(" ")
        elif child.tag not in ("list", "table"):
            pieces.append(_xml_text(child))
        pieces.append(child.tail or "")
    return "".join(pieces)


def _xml_blocks(body: Any) -> list[Block]:
    blocks: list[Block] = []

    def visit(element: Any, marker: str = "") -> None:
        tag = element.tag
        if tag == "head":
            rend = element.get("rend") or "h2"
            level = int(rend[1]) if len(rend) == 2 and rend[1].isdigit() else 2
            blocks.append(Block(_xml_text(element), heading_level=level))
        elif tag == "list":
            numbered = element.get("rend") == "ol"
            items = [child for child in element if child.tag == "item"]
            for number, item in enumerate(items, start=1):
                visit(item, f"{number}." if numbered else "•")
        elif tag == "item":
            blocks.append(Block(f"{marker} {_xml_text(element)}".strip()))
            for child in element:
                if child.tag in ("list", "table"):
                    visit(child)
        elif tag == "table":
            for row in element.iter("row"):
                cells = [" ".join(_xml_text(c).split()) for c in row if c.tag == "cell"]
                if any(cells):
                    blocks.append(Block(" | ".join(cells)))
        elif tag in ("p", "quote", "code"):
            if len(element) and all(
                child.tag in ("p", "list", "table", "head") for child in element
            ):
                for child in element:
                    visit(child)
            else:
                blocks.append(Block(_xml_text(element)))
        else:  # body, div, and whatever else holds blocks
            if (element.text or "").strip():
                blocks.append(Block(element.text))
            for child in element:
                visit(child)
                if (child.tail or "").strip():
                    blocks.append(Block(child.tail))

    visit(body)
    return blocks


def _extract(text: str) -> tuple[str, str, list[Block]]:
    """(meta title, date, blocks) by trafilatura; no blocks when it finds no main content."""
    import lxml.html
    from lxml.etree import ParserError
    from trafilatura import bare_extraction

    try:
        tree = lxml.html.document_fromstring(text)
    except (ParserError, ValueError):
        return "", "", []
    meta = tree.xpath(
        "//meta[@property='og:title' or @name='og:title' or @name='twitter:title']/@content"
    )
    title = next((str(m) for m in meta if str(m).strip()), "") or _page_title(
        tree.findtext(".//title") or ""
    )
    result = bare_extraction(
        tree,
        include_tables=True,
        include_comments=False,
        with_metadata=True,
        config=_config(),
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    body = getattr(result, "body", None)
    if body is None:
        return title, "", []
    return title, meaningful_date(getattr(result, "date", None)), _xml_blocks(body)


@functools.cache
def _config() -> Any:
    from trafilatura.settings import use_config

    config = use_config()
    for size in ("MIN_EXTRACTED_SIZE", "MIN_OUTPUT_SIZE"):  # a short notice is content too
        config.set("DEFAULT", size, "1")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signals work in the main thread only
    return config


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _structured(blocks: list[Block]) -> bool:
    return any(b.heading_level or b.text.startswith(("• ", "1. ")) for b in blocks)


def _main_region(walked: list[Block], extracted: list[Block]) -> list[Block]:
    """The stretch of the whole-page walk that holds the extracted paragraphs, with the
    headings just before it: trafilatura's choice of content, the page's own structure."""
    wanted = {_key(b.text) for b in extracted if b.text.strip()}
    hits = [i for i, b in enumerate(walked) if _key(b.text) in wanted]
    if not hits:
        return extracted
    first, last = hits[0], hits[-1]
    while first > 0 and walked[first - 1].heading_level:
        first -= 1
    return walked[first : last + 1]


def load_html(path: Path, doc_id: str, decoded: Decoded) -> Document:
    title, date, blocks = _extract(decoded.text)
    if not blocks or not _structured(blocks):
        # nothing found, or paragraphs alone: trafilatura found no content element (<main>,
        # <article>, a "content" div) and fell back to bare paragraphs; the walk of the page
        # gives back the headings and lists around them
        walked_title, walked = _walk(decoded.text)
        title = title or _page_title(walked_title)
        blocks = _main_region(walked, blocks) if blocks else walked
    blocks = [b for b in blocks if not is_chrome(b.text)]
    return assemble(
        doc_id,
        blocks,
        title=choose_title(title, headline(blocks), fallback=path.stem),
        source=str(path),
        date=date,
    )
