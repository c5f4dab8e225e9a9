"""HTML main content without the site around it: banners, "how you know" boxes, cookie
notices, navigation, related links and footers are dropped; headings, lists and tables stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.document import Document
from ingest.loaders import load_document

ARTICLE = (
    "<h1>USNORTHCOM delivers <em>training</em> to Mexican Army and Navy</h1>"
    "<p class='dateline'>News | Sept. 22, 2021</p>"
    "<p>Gender advisors from U.S. Northern Command joined a team from the Defense Institute of "
    "International Legal Studies to deliver training to lawyers of the Mexican Army and Navy "
    "in Mexico City.</p>"
    "<h2>What the course covered</h2>"
    "<p>The students studied the standards <b>prescribed</b> by the "
    "<a href='/court'>Inter-American Court of Human Rights</a>, and how to apply them to "
    "military operations in their country.</p>"
    "<ul><li>International humanitarian law.</li><li>Women, peace and security.</li></ul>"
    "<table><tr><th>Week</th><th>Topic</th></tr><tr><td>1</td><td>Protection</td></tr></table>"
)
CHROME = {
    "banner": "<section class='usa-banner'><div>An official website of the United States "
    "government</div><button>Here's how you know</button></section>",
    "how-you-know": "<div class='usa-banner__content'><p>Official websites use .mil. A .mil "
    "website belongs to an official U.S. Department of Defense organization.</p>"
    "<p>Secure .mil websites use HTTPS. A lock (lock) or https:// means you've safely "
    "connected to the .mil website.</p></div>",
    "cookie": "<div id='cookie-notice' class='cookie-consent'><p>This site uses cookies to "
    "improve your experience.</p><button>Accept all cookies</button></div>",
    "nav": "<nav><ul><li><a href='/'>Home</a></li><li><a href='/n'>Newsroom</a></li></ul></nav>",
    "header": "<header><div class='site-name'>U.S. Northern Command SITENAME</div></header>",
    "related": "<aside><h3>Related stories</h3><p>RELATEDSTORY about something else.</p></aside>",
    "footer": "<footer><p>FOOTERTEXT Privacy Program | Accessibility | FOIA</p></footer>",
}


# where the article sits: a <main> element, a "content" div, or straight in <body>
# (trafilatura then finds no content element; the page's own walk supplies the structure)
WRAPPERS = {
    "main-element": "<main><article>{}</article></main>",
    "content-div": "<div class='content'>{}</div>",
    "bare-body": "{}",
}


def _page(layout: str) -> str:
    body = WRAPPERS[layout].format(ARTICLE)
    top = CHROME["banner"] + CHROME["how-you-know"] + CHROME["cookie"] + CHROME["header"]
    return (
        "<!doctype html><html lang='en'><head>"
        "<title>USNORTHCOM delivers training &gt; News | U.S. Northern Command</title>"
        "<meta property='og:title' content='USNORTHCOM delivers training to Mexican Army'>"
        "<meta property='article:published_time' content='2021-09-22T10:00:00-06:00'>"
        "<script>var tracker = 'SCRIPTTEXT';</script></head><body>"
        f"{top}{CHROME['nav']}{body}"
        f"{CHROME['related']}{CHROME['footer']}</body></html>"
    )


def _load(tmp_path: Path, layout: str) -> Document:
    path = tmp_path / "article.html"
    path.write_text(_page(layout), encoding="utf-8")
    return load_document(path, "article.html")


@pytest.mark.parametrize("layout", WRAPPERS)
@pytest.mark.parametrize(
    "chrome",
    [
        "An official website",
        "how you know",
        "Official websites use",
        "A lock",
        "cookies",
        "Newsroom",
        "SITENAME",
        "RELATEDSTORY",
        "FOOTERTEXT",
        "SCRIPTTEXT",
    ],
)
def test_site_chrome_is_dropped(tmp_path: Path, layout: str, chrome: str) -> None:
    assert chrome not in _load(tmp_path, layout).text


@pytest.mark.parametrize("layout", WRAPPERS)
@pytest.mark.parametrize(
    "visible",
    [
        "The students studied the standards prescribed by the Inter-American Court of Human "
        "Rights, and how to apply them",
        "International humanitarian law.",
        "Week | Topic",
        "1 | Protection",
    ],
)
def test_main_content_is_kept(tmp_path: Path, layout: str, visible: str) -> None:
    assert visible in _load(tmp_path, layout).text


def test_page_title_date_and_locations(tmp_path: Path) -> None:
    document = _load(tmp_path, "main-element")
    assert document.title == "USNORTHCOM delivers training to Mexican Army"
    assert document.date == "2021-09-22"
    chunks = chunk_document(document, size=200, overlap=0)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
    where = {c.location for c in chunks if "Inter-American Court" in c.text}
    assert where == {
        "USNORTHCOM delivers training to Mexican Army and Navy > What the course covered"
    }


def test_page_without_metadata_takes_its_headline_as_title(tmp_path: Path) -> None:
    path = tmp_path / "saved.html"
    path.write_text(
        "<html><head><title>Untitled</title></head><body>" + ARTICLE + "</body></html>",
        encoding="utf-8",
    )
    document = load_document(path, "saved.html")
    assert document.title == "USNORTHCOM delivers training to Mexican Army and Navy"


def test_a_fragment_too_small_to_extract_is_walked_without_its_chrome(tmp_path: Path) -> None:
    path = tmp_path / "notice.html"
    path.write_text(
        "<html><head><title>Notice | Ministry</title></head><body>"
        "<section class='usa-banner'><p>BANNERTEXT</p></section>"
        "<div id='cookie-consent'><p>COOKIETEXT</p></div>"
        "<nav>NAVTEXT</nav><p>The office is closed on Monday.</p></body></html>",
        encoding="utf-8",
    )
    document = load_document(path, "notice.html")
    assert (document.title, document.text) == ("Notice", "The office is closed on Monday.")
