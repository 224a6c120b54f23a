"""A newcomer buys a day pass on the demo without any Stripe key: chooses
bank transfer, sees where to pay; the operator records the transfer on the
payments page (390 px, German) and the pass shows as paid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from booking.demo import create_demo
from tests.browser.pages import PASSWORD, booking_day, flash, log_in, log_out

pytestmark = pytest.mark.browser

SHOTS = (
    Path(os.environ.get("LANDDESK_SHOTS", ""))
    if os.environ.get("LANDDESK_SHOTS")
    else None
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


def test_day_pass_by_bank_transfer_end_to_end(new_phone, db):
    create_demo(db, password=PASSWORD)
    day = booking_day()
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "jana@example.org")
    page.goto("/plans")
    offer = (
        page.locator("li", has_text="Tagespass Eilenburg")
        .filter(has_not_text="Halbtagespass")
        .first
    )
    offer.locator("input[name=date]").fill(day.isoformat())
    offer.locator("form.day-pass button[type=submit]").tap()
    # The checkout step: how to pay, in German, nothing about Stripe.
    expect(page.locator("ul.pay-methods")).to_be_visible()
    body = page.locator("main").inner_text()
    assert "Stripe" not in body and "online" not in body
    _shot(page, "order-choose-de-390")
    page.get_by_role("button", name="Per Überweisung bezahlen").tap()
    # Confirmed, not "done": the money is still to come.
    expect(flash(page, "success")).to_have_text(
        "Bestätigt: Bitte überweisen Sie den Betrag wie unten angegeben."
    )
    bank = page.locator("section.bank")
    expect(bank).to_contain_text("DE02 1203 0000 0000 2020 51")
    expect(bank).to_contain_text("Bestellung")
    expect(bank).to_contain_text("12,00")
    _shot(page, "order-invoice-de-390")
    page.goto("/plans")
    expect(page.locator("body")).to_contain_text("gültig, noch zu bezahlen")
    log_out(page)

    log_in(page, "betrieb@example.org")
    page.goto("/billing/payments")
    card = page.locator("ul.open-orders li.card").first
    expect(card).to_contain_text("Jana")
    expect(card).to_contain_text("fällig am")
    _shot(page, "payments-open-de-390")
    card.get_by_role("button", name="Zahlung erfassen").tap()
    expect(flash(page, "success")).to_contain_text("Zahlung erfasst")
    expect(page.locator("ul.open-orders")).to_contain_text("Nichts offen")
    _shot(page, "payments-recorded-de-390")
    page.get_by_role("link", name="Bahnhof Eilenburg").tap()
    expect(page.locator("input[name=iban]")).to_have_value(
        "DE02 1203 0000 0000 2020 51"
    )
    _shot(page, "payment-settings-de-390")
    page.locator("input[name=iban]").fill("DE02 1203 0000 0000 2020 52")
    page.get_by_role("button", name="Speichern").tap()
    expect(flash(page, "error")).to_contain_text("Tippfehler")
    _shot(page, "payment-settings-error-de-390")
    page.goto("/billing/settlement")
    expect(page.locator("ul.settlement")).to_contain_text("Verkauft")
    _shot(page, "settlement-de-390")
    log_out(page)

    log_in(page, "jana@example.org")
    page.goto("/plans")
    passes = page.locator("section[aria-labelledby=day-passes-heading]")
    expect(passes).to_contain_text("bezahlt")
    expect(passes.get_by_role("button", name="Stornieren")).to_be_visible()
