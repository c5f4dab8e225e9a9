"""The passage viewer on a PDF: the cited page drawn by pdf.js with the quote highlighted on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fpdf import FPDF
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.api.live import LiveProcess
from tests.web.test_page import ask

pytestmark = pytest.mark.slow

PDF_NAME = "lima-workshop-report.pdf"
QUESTION = "How many judges did the Lima workshop train?"
FACT = "The Lima workshop trained 19 judges on the Belém do Pará convention."
KEY = "a-key-the-page-sends"


def report_pdf() -> bytes:
    """Three pages; the fact is on page 2, wrapped over two lines."""
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=14)
    pages = [
        "Regional training report\n\nThis report describes the training programme of the "
        "regional office, with workshops for prosecutors, police and court staff.",
        f"Workshops in Peru\n\n{FACT} The sessions took three days and were followed by "
        "a mentoring programme for the judges who attended.",
        "Next steps\n\nThe office plans further sessions in Cusco and Arequipa.",
    ]
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(120, 8, text)
    return bytes(pdf.output())


def upload(server: LiveProcess, headers: dict[str, str] | None = None) -> Iterator[str]:
    """Add the report to the server for the tests, and remove it afterwards."""
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
        files = [("files", (PDF_NAME, report_pdf(), "application/pdf"))]
        response = http.post("/api/documents", files=files)
        assert response.status_code == 200, response.text
        assert response.json()["documents"] == [PDF_NAME]
        yield PDF_NAME
        assert http.delete(f"/api/documents/{PDF_NAME}").status_code in (200, 204)


@pytest.fixture(scope="module")
def report(page_server: LiveProcess) -> Iterator[str]:
    yield from upload(page_server)


def watch(page: Page) -> list[str]:
    """Console errors and uncaught exceptions from now on (CSP violations among them)."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def open_citation(page: Page) -> None:
    turn = ask(page, QUESTION)
    expect(turn.locator(".answer-text")).to_contain_text("19 judges")
    turn.locator("button.marker").first.click()
    expect(page.locator("#passage-meta")).to_contain_text(PDF_NAME)


# The canvas's size and dark pixels, and each highlight's box on it with the dark pixels under it.
MEASURE_PAGE = """() => {
  const canvas = document.querySelector("#passage-page-view canvas");
  const box = canvas.getBoundingClientRect();
  const pixels = canvas.getContext("2d");
  const ink = (x, y, w, h) => {
    const data = pixels.getImageData(x, y, Math.max(1, w), Math.max(1, h)).data;
    let dark = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] + data[i + 1] + data[i + 2] < 384) dark += 1;
    }
    return dark;
  };
  const sx = canvas.width / box.width;
  const sy = canvas.height / box.height;
  const marks = [...document.querySelectorAll("#passage-page-view .pdf-mark")].map((mark) => {
    const r = mark.getBoundingClientRect();
    const x = r.left - box.left;
    const y = r.top - box.top;
    const under = ink(Math.round(x * sx), Math.round(y * sy),
                      Math.round(r.width * sx), Math.round(r.height * sy));
    return { x, y, width: r.width, height: r.height, ink: under };
  });
  return { width: canvas.width, height: canvas.height, boxWidth: box.width,
           boxHeight: box.height, ink: ink(0, 0, canvas.width, canvas.height), marks };
}"""


def drawn_page(page: Page) -> dict[str, Any]:
    view = page.locator("#passage-page-view")
    expect(view.locator("canvas")).to_be_visible()
    expect(view).not_to_have_attribute("aria-busy", "true")
    result: dict[str, Any] = page.evaluate(MEASURE_PAGE)
    return result


def test_a_pdf_citation_shows_its_page_with_the_quote_highlighted(page: Page, report: str) -> None:
    problems = watch(page)
    # A key in the browser (this server needs none): the file must come with it, like any request.
    page.evaluate("key => localStorage.setItem('cited-assistant.api-key', key)", KEY)
    with page.expect_response(lambda r: "/api/original?" in r.url) as original:
        open_citation(page)
    assert original.value.status == 200
    assert original.value.request.headers.get("x-api-key") == KEY
    expect(page.locator("#passage-quote mark")).to_contain_text("Lima workshop trained 19 judges")
    expect(page.locator("#passage-page-caption")).to_have_text("Page 2")
    expect(page.locator("#passage-page-view [role=img]")).to_have_attribute(
        "aria-label", re.compile(r"^Page 2 of .+, the quote highlighted$")
    )
    drawn = drawn_page(page)
    assert drawn["width"] > 0 and drawn["height"] > drawn["width"]  # an A4 page, upright
    assert drawn["ink"] > 500, "the page was drawn blank"
    marks = drawn["marks"]
    assert len(marks) >= 2, marks  # the sentence is wrapped over two lines
    for mark in marks:
        assert mark["width"] > 5 and mark["height"] > 3, mark
        assert mark["x"] >= 0 and mark["x"] + mark["width"] <= drawn["boxWidth"] + 1, mark
        assert mark["y"] >= 0 and mark["y"] + mark["height"] <= drawn["boxHeight"] + 1, mark
        assert mark["ink"] > 20, f"a highlight over no text: {mark}"
    assert max(m["y"] for m in marks) < drawn["boxHeight"] / 2  # near the top of page 2
    expect(page.locator("#passage-page-status")).to_have_text("")

    button = page.get_by_role("button", name="Open the PDF at page 2")
    expect(button).to_be_enabled()
    with page.expect_popup() as opened:
        button.click()
    tab = opened.value
    assert tab.url.startswith("blob:") and tab.url.endswith("#page=2"), tab.url
    tab.close()
    assert not problems, problems

    # A passage that is not from a PDF shows no page.
    turn = ask(page, "How much money in total was committed to Women LEAD?")
    turn.locator("button.marker").first.click()
    expect(page.locator("#passage-quote mark")).to_contain_text("850 million")
    expect(page.locator("#passage-page")).to_be_hidden()
    expect(page.locator("#passage-page-view canvas")).to_have_count(0)


# The matching of a quote to a page's text items, on items as pdf.js gives them.
MATCHES = [
    pytest.param(
        ["Before.", "The Lima workshop trained 19 judges.", "After."],
        "The Lima workshop trained 19 judges.",
        ["The Lima workshop trained 19 judges"],
        id="one-item",
    ),
    pytest.param(
        [
            "Workshops in Peru",
            "",
            "The Lima workshop trained 19 judges on the",
            "Belém do Pará conven-",
            "tion. The sessions took three days.",
        ],
        "Workshops in Peru The Lima workshop trained 19 judges on the Belém do Pará convention.",
        [
            "Workshops in Peru",
            "The Lima workshop trained 19 judges on the",
            "Belém do Pará conven",
            "tion",
        ],
        id="lines-and-hyphenation",
    ),
    pytest.param(
        ["The ﬁrst ﬁeld oﬃce opened in 2019."],
        "The first field office opened in 2019.",
        ["The ﬁrst ﬁeld oﬃce opened in 2019"],
        id="ligatures",
    ),
    pytest.param(
        [
            "The Lima workshop trained 19 judges",
            "Regional training report — page 2",
            "on the Belém do Pará convention.",
        ],
        "The Lima workshop trained 19 judges on the Belém do Pará convention.",
        ["The Lima workshop trained 19 judges", "on the Belém do Pará convention"],
        id="running-header-inside",
    ),
    pytest.param(
        ["The Lima workshop trained l9 judges on the Belem do Para convention."],
        "The Lima workshop trained 19 judges on the Belém do Pará convention.",
        ["The Lima workshop trained l9 judges on the Belem do Para convention"],
        id="a-character-read-differently",
    ),
    pytest.param(
        ["Page 3", "The Lima workshop trained 19 judges on the"],
        "The Lima workshop trained 19 judges on the Belém do Pará convention in 2023.",
        ["The Lima workshop trained 19 judges on the"],
        id="continues-on-next-page",
    ),
    pytest.param(
        ["The office plans further sessions in Cusco and Arequipa."],
        "The Lima workshop trained 19 judges on the Belém do Pará convention.",
        [],
        id="not-on-the-page",
    ),
]


@pytest.mark.parametrize(("items", "quote", "marked"), MATCHES)
def test_the_quote_is_found_among_text_items(
    page: Page, items: list[str], quote: str, marked: list[str]
) -> None:
    found = page.evaluate(
        """async ([items, quote]) => {
          const viewer = await import(new URL("static/pdf-page.js", document.baseURI).href);
          const entries = items.map((str) => ({ str }));
          const spans = [...viewer.quoteSpans(entries, quote)].sort((a, b) => a[0] - b[0]);
          return spans.map(([index, [from, to]]) => items[index].slice(from, to));
        }""",
        [items, quote],
    )
    assert found == marked
