"""A real `assistant serve` and headless Chromium (Debian's, never a downloaded one)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.live import LiveProcess, start_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def page_server(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveProcess]:
    root = tmp_path_factory.mktemp("web")
    shutil.copytree(sample_data_dir, root / "data")
    server = start_app(root / "data", root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, page_server: LiveProcess) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(page_server.url + "/")
    yield page
    context.close()
