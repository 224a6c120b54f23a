"""Our own pages' scripts call the JSON API with the session cookie: a real
Chromium sends its fetch metadata and Origin, and the page's CSRF token."""

from __future__ import annotations

import pytest

from tests.browser.pages import log_in

pytestmark = pytest.mark.browser

POST_FROM_PAGE = """async (withToken) => {
    const token = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch("/api/v1/me/calendar/revoke", {
        method: "POST",
        headers: withToken ? {"X-CSRF-Token": token} : {},
    });
    return [response.status, await response.json()];
}"""


def test_a_page_script_calls_the_api_with_the_cookie_and_the_pages_token(
    page, create_user
):
    create_user("jana@example.org")
    log_in(page, "jana@example.org")
    status, body = page.evaluate(POST_FROM_PAGE, True)
    assert status == 200 and body["calendar_url"].startswith("http://localhost/")
    status, body = page.evaluate(POST_FROM_PAGE, False)
    assert status == 403 and body["error"] == "forbidden"
