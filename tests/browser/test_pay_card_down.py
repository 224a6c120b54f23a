"""Card payment configured but Stripe unreachable: on a phone, in German, the
member reads that it is temporary and pays on site instead."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from playwright.sync_api import expect

from booking.billing import services as billing
from tests.browser.pages import booking_day, flash, log_in

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("LANDDESK_SHOTS")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "STRIPE_SECRET_KEY": "sk_test_down",
        "STRIPE_API_BASE": f"http://127.0.0.1:{_closed_port()}",
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_TIMEOUT_S": 1,
    }


def test_card_down_says_temporary_and_offers_paying_on_site(
    new_phone, db, create_user, create_location, create_resource
):
    operator = create_user("betrieb@example.org", role="operator")
    location = create_location(operator, name="Bahnhof Eilenburg", slug="eilenburg")
    desk = create_resource(location, "desk", name="Fensterplatz")
    desk.price_day_cents = 1500
    db.commit()
    billing.save_payment_settings(
        db,
        operator,
        location.id,
        {
            "stripe": "1",
            "invoice": "1",
            "on_site": "1",
            "invoice_confirms": "1",
            "account_holder": "Dorfbüro",
            "iban": "DE89 3704 0044 0532 0130 00",
        },
    )
    create_user("jana@example.org", locale="de")
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "jana@example.org", "password123")
    page.goto(f"/bookings/new?resource_id={desk.id}&date={booking_day().isoformat()}")
    page.locator("form[action='/bookings'] button[type=submit]").first.tap()
    page.get_by_role("button", name="Jetzt online bezahlen").tap()
    alert = page.locator("p.flash.error[role=alert]")
    expect(alert).to_contain_text("vorübergehend")
    expect(page.get_by_role("button", name="Vor Ort bezahlen")).to_be_visible()
    assert page.evaluate("() => document.scrollingElement.scrollWidth <= innerWidth")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/order-card-down-de-390.png", full_page=True)
    page.get_by_role("button", name="Vor Ort bezahlen").tap()
    expect(flash(page, "success")).to_contain_text("vor Ort")
    expect(page.locator("main")).to_contain_text("Ihre Buchung ist bestätigt")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/order-on-site-de-390.png", full_page=True)
