"""A member buys a space's membership by bank transfer without any Stripe
key, sees when the next month begins and cancels it for then; the operator
records that the money of a cancelled transfer went back (390 px, German)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from booking.demo import create_demo
from tests.browser.pages import PASSWORD, booking_day, flash, log_in, log_out

pytestmark = pytest.mark.browser

SHOTS = (
    Path(os.environ["LANDDESK_SHOTS"]) if os.environ.get("LANDDESK_SHOTS") else None
)

FITS_JS = "() => document.scrollingElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def app_config(app_config):
    return {k: v for k, v in app_config.items() if not k.startswith("STRIPE_")}


def _shot(page: Page, name: str) -> None:
    assert page.evaluate(FITS_JS), f"{name}: wider than the phone"
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_membership_by_transfer_and_money_paid_back(new_phone, db):
    create_demo(db, password=PASSWORD)
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "jana@example.org")
    page.goto("/plans")
    offer = page.locator("li", has_text="Fester Schreibtisch Eilenburg").first
    offer.get_by_role("button", name="Kaufen").tap()
    page.get_by_role("button", name="Per Überweisung bezahlen").tap()
    expect(flash(page, "success")).to_contain_text("überweisen")
    expect(page.locator("main")).to_contain_text("–")  # the period it pays
    page.goto("/plans")
    mine = page.locator("section[aria-labelledby=mine-heading]")
    expect(mine).to_contain_text("nächster Monat ab")
    assert "Tarif wechseln" not in mine.inner_text()
    _shot(page, "plans-membership-transfer-de-390")
    mine.get_by_role("button", name="kündigen").tap()
    expect(mine).to_contain_text("läuft bis")
    expect(flash(page, "success")).to_contain_text("endet nach dem")
    _shot(page, "plans-membership-cancelled-de-390")

    # A day pass paid by transfer, then cancelled: the money goes back.
    page.goto("/plans")
    day_offer = page.locator("li", has_text="Tagespass Eilenburg").filter(
        has_not_text="Halbtagespass"
    ).first
    day_offer.locator("input[name=date]").fill(booking_day().isoformat())
    day_offer.locator("form.day-pass button[type=submit]").tap()
    page.get_by_role("button", name="Per Überweisung bezahlen").tap()
    log_out(page)
    log_in(page, "betrieb@example.org")
    page.goto("/billing/payments")
    card = page.locator("ul.open-orders li.card", has_text="Tagespass").first
    card.get_by_role("button", name="Zahlung erfassen").tap()
    expect(flash(page, "success")).to_contain_text("Zahlung erfasst")
    log_out(page)
    log_in(page, "jana@example.org")
    page.goto("/plans")
    passes = page.locator("section[aria-labelledby=day-passes-heading]")
    passes.get_by_role("button", name="Stornieren").first.tap()
    expect(flash(page, "success")).to_contain_text("zurück")
    log_out(page)
    log_in(page, "betrieb@example.org")
    page.goto("/billing/payments")
    back = page.locator("section[aria-labelledby=refunds-heading]")
    expect(back).to_contain_text("Zurückzuzahlen")
    expect(back.locator("input[name=amount]")).to_have_value("12,00")
    _shot(page, "payments-payback-de-390")
    back.get_by_role("button", name="Als zurückgezahlt erfassen").tap()
    expect(flash(page, "success")).to_contain_text("Als zurückgezahlt erfasst")
    expect(page.locator("section[aria-labelledby=refunds-heading]")).to_have_count(0)
    _shot(page, "payments-paid-back-de-390")
