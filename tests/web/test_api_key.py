"""On a server with ASSISTANT_API_KEY, the page asks for the key and then works."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.api.live import LiveProcess, start_app

pytestmark = pytest.mark.slow

KEY = "page-test-key"


@pytest.fixture(scope="module")
def keyed_server(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveProcess]:
    root = tmp_path_factory.mktemp("keyed-web")
    shutil.copytree(sample_data_dir, root / "data")
    server = start_app(root / "data", root, ASSISTANT_API_KEY=KEY)
    yield server
    server.stop()


def test_the_page_asks_for_the_key(browser: Browser, keyed_server: LiveProcess) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(keyed_server.url + "/")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#documents")).to_contain_text("API key")

    page.get_by_label("API key for this server").fill("wrong")
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-form")).to_be_visible()  # the next 401 brings the form back

    page.get_by_label("API key for this server").fill(KEY)
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-form")).to_be_hidden()
    expect(page.locator("#documents > li.document")).to_have_count(12)
    box = page.get_by_label("Your question")
    box.fill("How much money in total was committed to Women LEAD?")
    box.press("Enter")
    expect(page.locator(".answer button.marker").first).to_be_visible()
    context.close()
