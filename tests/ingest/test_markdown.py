"""Markdown rendered to what a reader sees: no emphasis marks, links as their text, lists and
headings kept as structure; offsets stay offsets into that text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.loaders import load_document

SOURCE = """---
title: Word Document
---
# Strategy *and* Plan

The strategy has **four** lines of effort and a [national plan](https://x.gov/plan),
signed in __2023__ by the `Council`. ![Seal of the Council](seal.png)

- **Incorporating prevention. **In 2022, USAID launched *Safe from the Start*.
- In** Sudan, **USAID intends to provide $2.72 million.
  1. A nested step with <span style="text-decoration: underline">underlined</span> text.

## Reporting<sup>1</sup>

| Agency | Reports |
| --- | --- |
| State | every two years |

To view the report, visit: <https://example.gov/report.pdf>

Signed by the Council.<br>Washington, D.C.

<table>
<tr><th>Week</th><th>Module</th></tr>
<tr><td>2</td><td>**Accountability**</td></tr>
</table>
"""


@pytest.mark.parametrize(
    "visible",
    [
        "The strategy has four lines of effort and a national plan, signed in 2023 by the "
        "Council. Seal of the Council",
        "• Incorporating prevention. In 2022, USAID launched Safe from the Start.",
        "• In Sudan, USAID intends to provide $2.72 million.",
        "1. A nested step with underlined text.",
        "State | every two years",
        "To view the report, visit: https://example.gov/report.pdf",
        "Signed by the Council.\n\nWashington, D.C.",  # <br>: a line break, not glued text
        "Week | Module\n\n2 | Accountability",  # an HTML table: one row a block
    ],
)
def test_markdown_renders_to_visible_text(tmp_path: Path, visible: str) -> None:
    path = tmp_path / "plan.md"
    path.write_text(SOURCE, encoding="utf-8")
    assert visible in load_document(path, "plan.md").text


@pytest.mark.parametrize(
    "markup",
    ["**", "__", "](", "https://x.gov/plan", "`", "<span", "<sup>", "![", "| ---", "<td>", "<tr>"],
)
def test_markdown_markup_is_gone(tmp_path: Path, markup: str) -> None:
    path = tmp_path / "plan.md"
    path.write_text(SOURCE, encoding="utf-8")
    assert markup not in load_document(path, "plan.md").text


def test_markdown_headings_give_locations_and_a_default_title_gives_way(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text(SOURCE, encoding="utf-8")
    document = load_document(path, "plan.md")
    assert document.title == "Strategy and Plan"  # front matter "Word Document" is no title
    chunks = chunk_document(document, size=200, overlap=0)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
    by_text = {c.text: c.location for c in chunks}
    assert next(loc for t, loc in by_text.items() if "every two years" in t) == (
        "Strategy and Plan > Reporting1"
    )
