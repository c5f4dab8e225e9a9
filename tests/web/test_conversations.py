"""The chat page keeps conversations in the browser, asks within ticked sources, and shows a
cited quote inside its document's text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.slow

STORAGE = "cited-assistant.conversations"
FORUM = "What did the United States commit to the Generation Equality Forum?"
WOMEN_LEAD = "How much money in total was committed to Women LEAD?"
TRAINING = "What training did USNORTHCOM deliver in Mexico?"
TRAINING_DOC = "usnorthcom-wps-training-mexico-2021.txt"
# Two documents on sanctions for sexual violence in conflict: unscoped, the answer cites the
# June 2023 statement; the December 2023 fact sheet reports the largest set of such sanctions.
SANCTIONS = "What sanctions were imposed on perpetrators of conflict-related sexual violence?"
FACT_SHEET = "wh-factsheet-crsv-sanctions-2023.md"
MEMO = "wh-memo-crsv-accountability-2022.md"
NOTE_NAME = "harbor-exercise-notes.md"
NOTE = """# Harbor exercise notes

The Harbor Shield exercise in Cartagena trained 23 gender focal points from the coast guard.
"""


def ask(page: Page, question: str) -> tuple[Locator, dict[str, Any]]:
    """Ask with Enter; the finished turn and the JSON body the page sent."""
    turns = page.locator("#conversation > li")
    count = turns.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    with page.expect_response(lambda r: r.url.endswith("/api/chat")) as response:
        box.press("Enter")
    assert response.value.ok
    sent = response.value.request.post_data_json
    assert isinstance(sent, dict)
    turn = turns.nth(count)
    expect(turn.locator(".answer-text")).not_to_have_attribute("aria-busy", "true")
    expect(box).to_be_focused()
    return turn, sent


def opener(item: Locator, title: str) -> Locator:
    """The button that reopens a listed conversation (its name: the title, then the date)."""
    return item.get_by_role("button", name=re.compile("^" + re.escape(title)))


def stored(page: Page) -> list[dict[str, Any]]:
    """The conversations the page keeps in localStorage, most recently used first."""
    raw = page.evaluate(f"localStorage.getItem({json.dumps(STORAGE)})")
    conversations: list[dict[str, Any]] = json.loads(raw)["conversations"]
    return conversations


def last_answer(page: Page) -> dict[str, Any]:
    answer: dict[str, Any] = stored(page)[0]["turns"][-1]["answer"]
    return answer


def test_a_conversation_reopens_after_a_reload_with_working_citations(page: Page) -> None:
    ask(page, FORUM)
    citations = last_answer(page)["citations"]
    assert len(citations) >= 2

    page.reload()
    expect(page.locator("#conversation > li")).to_have_count(0)
    saved = page.locator("#conversations > li")
    expect(saved).to_have_count(1)
    opener(saved.first, FORUM).click()
    turn = page.locator("#conversation > li").first
    expect(turn.locator(".question")).to_contain_text(FORUM)
    expect(turn.locator(".answer-text")).to_contain_text("Generation Equality Forum")
    expect(saved.first.locator(".saved-open")).to_have_attribute("aria-current", "true")

    with page.expect_response(lambda r: "/api/passage?" in r.url) as passage:
        turn.locator("button.marker").first.click()
    assert passage.value.ok
    expect_in_context(page, citations[0])
    context = page.locator("#passage-quote").inner_text()
    assert len(context) > len(citations[0]["quote"])  # the quote sits inside its paragraph
    expect(page.locator("#passage-title")).to_have_text(citations[0]["title"])
    expect(page.locator("#passage-date")).to_have_text("Dated 2021-06-30")
    expect(page.locator("#passage-source a")).to_have_attribute("href", citations[0]["source"])

    turn.locator(".citation-list button").nth(1).click()  # a citation card opens one too
    expect(page.locator("#passage-heading")).to_have_text("Passage [2]")
    expect_in_context(page, citations[1])


def expect_in_context(page: Page, citation: dict[str, Any]) -> None:
    """The passage panel shows the citation's quote highlighted inside its paragraph."""
    mark = page.locator("#passage-quote mark")
    expect(mark).to_have_text(citation["quote"])
    expect(mark).to_be_in_viewport()
    expect(page.locator("#passage-quote")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#passage-status")).to_have_text("")
    assert citation["quote"] in page.locator("#passage-quote").inner_text()


def test_every_citation_of_an_answer_opens_in_context(page: Page) -> None:
    # Its two passages follow chunk boundaries that /api/passage once could not stitch across.
    turn, _ = ask(page, WOMEN_LEAD)
    for index, citation in enumerate(last_answer(page)["citations"]):
        turn.locator(".citation-list button").nth(index).click()
        expect_in_context(page, citation)


def test_an_answer_whose_document_is_gone_still_shows_its_quote(page: Page) -> None:
    page.get_by_label("Add or update documents").set_input_files(
        {"name": NOTE_NAME, "mimeType": "text/markdown", "buffer": NOTE.encode()}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_contain_text("added 1")
    turn, _ = ask(page, "How many gender focal points did the Harbor Shield exercise train?")
    citation = last_answer(page)["citations"][0]
    assert citation["doc_id"] == NOTE_NAME
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove Harbor exercise notes").click()
    expect(page.locator(f'#documents li[data-doc-id="{NOTE_NAME}"]')).to_have_count(0)

    turn.locator("button.marker").first.click()
    expect(page.locator("#passage-quote mark")).to_have_text(citation["quote"])
    expect(page.locator("#passage-status")).to_contain_text(f"no document with id '{NOTE_NAME}'")


def test_a_file_source_shows_its_name_never_a_server_path(page: Page) -> None:
    turn, _ = ask(page, TRAINING)
    citation = last_answer(page)["citations"][0]
    assert citation["doc_id"] == TRAINING_DOC
    turn.locator("button.marker").first.click()
    expect(page.locator("#passage-quote mark")).to_have_text(citation["quote"])
    expect(page.locator("#passage-source")).to_have_text(TRAINING_DOC)
    expect(page.locator("#passage-source a")).to_have_count(0)
    assert "sample_data" not in page.locator("body").inner_text()


def test_ticking_a_document_limits_the_answer_to_it(page: Page) -> None:
    turn, sent = ask(page, SANCTIONS)
    assert sent["documents"] == [] and sent["tags"] == []
    unscoped = last_answer(page)
    assert unscoped["scope"] is None
    assert {c["doc_id"] for c in unscoped["citations"]} - {FACT_SHEET}  # cites elsewhere
    expect(turn.locator(".scope-note")).to_have_text("Answered from all documents.")
    expect(page.locator("#scope-text")).to_have_text("Asking all documents.")

    checkbox = page.locator(f'#documents li[data-doc-id="{FACT_SHEET}"]').get_by_role("checkbox")
    checkbox.check()
    expect(page.locator("#scope-text")).to_contain_text("Asking within: “FACT SHEET: New Actions")
    page.get_by_role("button", name="New conversation").click()  # the scope stays ticked
    turn, sent = ask(page, SANCTIONS)
    assert sent["documents"] == [FACT_SHEET]
    scoped = last_answer(page)
    assert scoped["scope"]["matched"] == [FACT_SHEET]
    assert scoped["citations"]
    assert all(c["doc_id"] == FACT_SHEET for c in scoped["citations"])
    expect(turn.locator(".answer-text")).to_contain_text("thirteen targets")
    expect(turn.locator(".scope-note")).to_contain_text(
        "Answered from 1 document: “FACT SHEET: New Actions"
    )
    turn.locator("button.marker").first.click()
    expect(page.locator("#passage-meta")).to_contain_text(FACT_SHEET)

    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#scope-text")).to_have_text("Asking all documents.")
    expect(checkbox).not_to_be_checked()
    # Reopening the scoped conversation ticks its scope again, for follow-up questions.
    opener(page.locator("#conversations > li").first, SANCTIONS).click()
    expect(checkbox).to_be_checked()


def test_tags_added_in_the_page_scope_questions(page: Page) -> None:
    for doc_id in (FACT_SHEET, MEMO):
        item = page.locator(f'#documents li[data-doc-id="{doc_id}"]')
        item.get_by_role("button", name="Add a tag").click()
        item.get_by_label("New tag for").fill("crsv")
        item.get_by_label("New tag for").press("Enter")
        expect(page.locator(f'#documents li[data-doc-id="{doc_id}"] .tag')).to_have_text("crsv×")
    chip = page.locator("#tag-chips").get_by_label("crsv")
    chip.check()
    expect(page.locator("#scope-text")).to_have_text("Asking within: tag crsv (2 documents)")
    turn, sent = ask(page, SANCTIONS)
    assert sent["tags"] == ["crsv"]
    answer = last_answer(page)
    assert sorted(answer["scope"]["matched"]) == sorted([FACT_SHEET, MEMO])
    assert answer["citations"]
    assert {c["doc_id"] for c in answer["citations"]} <= {FACT_SHEET, MEMO}
    expect(turn.locator(".scope-note")).to_have_text("Answered from 2 documents: tag crsv")

    for doc_id in (FACT_SHEET, MEMO):
        item = page.locator(f'#documents li[data-doc-id="{doc_id}"]')
        item.get_by_role("button", name="Remove the tag crsv").click()
        expect(page.locator(f'#documents li[data-doc-id="{doc_id}"] .tag')).to_have_count(0)
    expect(page.locator("#tag-filter")).to_be_hidden()
    expect(page.locator("#scope-text")).to_have_text("Asking all documents.")  # tag gone


def test_rename_and_delete_conversations(page: Page) -> None:
    ask(page, WOMEN_LEAD)
    page.get_by_role("button", name="New conversation").click()
    ask(page, TRAINING)
    saved = page.locator("#conversations > li")
    expect(saved).to_have_count(2)
    expect(saved.first).to_contain_text(TRAINING)  # most recently used first

    saved.nth(1).get_by_role("button", name=f"Rename “{WOMEN_LEAD}”").click()
    name = page.get_by_label("New name")
    expect(name).to_be_focused()
    name.fill("Women LEAD funding")
    name.press("Enter")
    expect(saved.nth(1).locator(".saved-title")).to_have_text("Women LEAD funding")
    page.reload()
    expect(saved.nth(1).locator(".saved-title")).to_have_text("Women LEAD funding")

    page.once("dialog", lambda dialog: dialog.accept())
    saved.nth(1).get_by_role("button", name="Delete “Women LEAD funding”").click()
    expect(saved).to_have_count(1)
    expect(saved.first).to_contain_text(TRAINING)

    opener(saved.first, TRAINING).click()  # deleting the open one clears it
    expect(page.locator("#conversation > li")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    saved.first.get_by_role("button", name=f"Delete “{TRAINING}”").click()
    expect(saved).to_have_count(0)
    expect(page.locator("#conversation > li")).to_have_count(0)
    expect(page.locator("#history-empty")).to_be_visible()
    page.reload()
    expect(saved).to_have_count(0)


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"version": 1, "conversations": "nope"}),
        json.dumps({"version": 1, "conversations": [None, 5, {"id": "x"}, {"id": 1, "turns": []}]}),
    ],
)
def test_unreadable_storage_does_not_break_the_page(page: Page, raw: str) -> None:
    page.evaluate("([key, raw]) => localStorage.setItem(key, raw)", [STORAGE, raw])
    page.reload()
    expect(page.locator("#documents > li.document")).to_have_count(12)
    expect(page.locator("#conversations > li")).to_have_count(0)
    ask(page, TRAINING)
    expect(page.locator("#conversations > li")).to_have_count(1)
    assert len(stored(page)) == 1


def test_odd_stored_answers_render_and_the_list_is_capped(page: Page) -> None:
    odd = {
        "id": "odd",
        "created": 1,
        "updated": 2_000_000_000_000,
        "turns": [
            {"question": "Odd one?", "answer": {"answer": "Text [1]", "citations": [{"n": "1"}]}},
            {"question": "Failed one?", "error": "the server was down"},
            {"question": "Unreadable?", "answer": 7},
        ],
    }
    filler = [
        {"id": f"c{i}", "created": i, "updated": i, "turns": [{"question": f"Question {i}?"}]}
        for i in range(60)
    ]
    data = json.dumps({"version": 1, "conversations": [odd, *filler]})
    page.evaluate("([key, raw]) => localStorage.setItem(key, raw)", [STORAGE, data])
    page.reload()
    saved = page.locator("#conversations > li")
    expect(saved).to_have_count(61)  # as found; the cap applies when the page next writes
    opener(saved.first, "Odd one?").click()
    turns = page.locator("#conversation > li")
    expect(turns).to_have_count(3)
    expect(turns.nth(0).locator(".answer-text")).to_have_text("Text [1]")
    expect(turns.nth(0).locator("button.marker")).to_have_count(0)
    expect(turns.nth(1).locator(".answer")).to_have_class("answer failed")
    expect(turns.nth(2).locator(".answer-text")).to_contain_text("could not be read back")

    ask(page, TRAINING)  # a follow-up in the odd conversation; the list is cut to 50
    expect(saved).to_have_count(50)
    kept = stored(page)
    assert kept[0]["id"] == "odd" and len(kept[0]["turns"]) == 4
    assert "c10" not in {c["id"] for c in kept}  # the least recently used went first
