"""The chat page in headless Chromium: streamed answers, citations, refusals, uploads."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
QUESTION = "How much money in total was committed to Women LEAD?"
NOTE_NAME = "harbor-exercise-notes.md"
NOTE = """# Harbor exercise notes

The Harbor Shield exercise in Cartagena trained 23 gender focal points from the coast guard.
Its after-action review asked for a permanent survivor referral desk at the port.
"""


def ask(page: Page, question: str) -> Locator:
    """Type a question, send it with Enter, and return the finished answer of that turn."""
    turns = page.locator("#conversation > li")
    count = turns.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith("/api/chat")) as response:
        box.press("Enter")
    assert response.value.headers["content-type"].startswith("text/event-stream")
    turn = turns.nth(count)
    expect(turn.locator(".answer-text")).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_label("Your question")).to_be_focused()
    return turn


def test_ask_and_open_a_citation(page: Page) -> None:
    expect(page.locator("#documents > li.document")).to_have_count(12)
    expect(page.locator("#key-form")).to_be_hidden()  # no API key on this server
    expect(page.locator("#passage")).to_be_hidden()
    turn = ask(page, QUESTION)
    expect(turn.locator(".question")).to_contain_text(QUESTION)
    answer = turn.locator(".answer")
    expect(answer).not_to_have_class("answer refused")
    expect(answer.locator(".answer-text")).to_contain_text("850 million")
    marker = answer.locator("button.marker").first
    expect(marker).to_have_text("[1]")
    expect(answer.locator(".citation-list li")).not_to_have_count(0)

    marker.click()
    panel = page.locator("#passage")
    expect(panel).to_be_visible()
    expect(page.locator("#passage-heading")).to_have_text("Passage [1]")
    expect(page.locator("#passage-heading")).to_be_focused()
    expect(page.locator("#passage-title")).to_contain_text("Women, Peace and Security")
    expect(page.locator("#passage-quote")).to_contain_text("850 million")
    link = page.locator("#passage-source a")
    expect(link).to_have_attribute(
        "href",
        "https://bidenwhitehouse.archives.gov/briefing-room/statements-releases/2024/07/10/fact-sheet-advancing-women-peace-and-security-at-the-nato-75th-anniversary-summit/",
    )
    expect(marker).to_have_attribute("aria-expanded", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "answer-with-citation.png"), full_page=False)

    page.keyboard.press("Escape")  # closes the passage and returns focus to its marker
    expect(panel).to_be_hidden()
    expect(marker).to_be_focused()


def test_refusal_is_shown_distinctly(page: Page) -> None:
    turn = ask(page, "What is the boiling point of mercury on Jupiter?")
    answer = turn.locator(".answer")
    expect(answer).to_have_class("answer refused")
    expect(answer.locator(".refusal-label")).to_have_text("Not in the sources")
    expect(answer.locator("button.marker")).to_have_count(0)
    closest = answer.locator(".citation-list button").first
    closest.click()
    expect(page.locator("#passage-heading")).to_have_text("Closest passage 1")


def test_follow_up_question_uses_the_conversation(page: Page) -> None:
    ask(
        page,
        "Which Senate committees are the appropriate congressional committees in the WPS statute?",
    )
    turn = ask(page, "And in the House?")
    expect(turn.locator(".answer-text")).to_contain_text("House of Representatives")


def test_upload_ask_and_remove(page: Page) -> None:
    question = "How many gender focal points did the Harbor Shield exercise train?"
    page.get_by_label("Add or update documents").set_input_files(
        {"name": NOTE_NAME, "mimeType": "text/markdown", "buffer": NOTE.encode()}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("added 1")
    item = page.locator(f'#documents li[data-doc-id="{NOTE_NAME}"]')
    expect(item).to_contain_text("Harbor exercise notes")

    turn = ask(page, question)
    expect(turn.locator(".answer-text")).to_contain_text("23 gender focal points")
    turn.locator("button.marker").first.click()
    expect(page.locator("#passage-meta")).to_contain_text(NOTE_NAME)

    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Remove Harbor exercise notes").click()
    expect(item).to_have_count(0)
    turn = ask(page, question)
    expect(turn.locator(".answer-text")).not_to_contain_text("23 gender focal points")


def test_a_bad_upload_shows_the_server_message(page: Page) -> None:
    page.get_by_label("Add or update documents").set_input_files(
        {"name": "tool.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00"}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("unsupported file type")


def test_new_conversation_clears_the_page(page: Page) -> None:
    ask(page, QUESTION)
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#conversation > li")).to_have_count(0)
    expect(page.get_by_label("Your question")).to_be_focused()
