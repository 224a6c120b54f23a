"""Helpers for driving Landdesk's pages in the browser tests."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Locator, Page, expect

PASSWORD = "password123"


def booking_day() -> date:
    """A weekday two to six days ahead: among the location page's day chips,
    open under the default hours, and never "today" (whose morning may be over).
    """
    day = date.today() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form.stack button[type=submit]").tap()
    expect(page.locator("header nav form[action='/logout'] button")).to_be_visible()


def log_out(page: Page) -> None:
    page.locator("header nav form[action='/logout'] button").tap()
    expect(page.locator("header nav a[href^='/login']")).to_be_visible()


def flash(page: Page, category: str) -> Locator:
    return page.locator(f"p.flash.{category}")


def url_path(path: str) -> re.Pattern[str]:
    """Matches the page URL whose path (and query) is ``path``."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(#.*)?$")


class Taps:
    """Counts what the user does with a finger: taps and picks from a list."""

    def __init__(self) -> None:
        self.count = 0

    def tap(self, target: Locator) -> None:
        target.tap()
        self.count += 1

    def choose(self, select: Locator, value: str) -> None:
        select.select_option(value)
        self.count += 1
