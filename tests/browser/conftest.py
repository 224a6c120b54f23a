"""A real headless Chromium at a phone viewport, driving the real app.

Debian's ``chromium`` runs through Playwright (``playwright install`` is not
needed). The app is the ``app`` fixture's app, served over HTTP on a free
port by ``tests.support.live_server``; tests set up data through the usual
factories and then use the pages as a coworker or operator would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.live_server import LiveServer

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
# An ordinary phone: 390 × 844 CSS pixels (iPhone 12 to 15), touch, no mouse.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
TIMEOUT_MS = 10_000


def chromium_executable() -> str:
    """Debian's Chromium, or LANDDESK_CHROMIUM; fails the test when missing."""
    chosen = os.environ.get("LANDDESK_CHROMIUM")
    candidates = [chosen] if chosen else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        f"Chromium not found{f' at LANDDESK_CHROMIUM={chosen}' if chosen else ''}: "
        "the browser tests need Debian's chromium (apt-get install chromium) "
        "or LANDDESK_CHROMIUM=/path/to/chromium.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def new_phone(browser, live_server) -> Iterator[Callable[..., BrowserContext]]:
    """Open a fresh phone (own cookies) on the live server; closed at teardown."""
    contexts: list[BrowserContext] = []

    def make(
        *,
        width: int = 390,
        javascript: bool = True,
        locale: str = "en-US",
        **options,
    ) -> BrowserContext:
        context = browser.new_context(
            **{**PHONE, "viewport": {"width": width, "height": 844}},
            base_url=live_server.url,
            java_script_enabled=javascript,
            locale=locale,
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_phone) -> Page:
    return new_phone().new_page()
