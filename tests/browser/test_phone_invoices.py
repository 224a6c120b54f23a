"""Invoices from a phone, in German at 390 px: the operator enters the
invoice details (a mistake first), records a bank transfer against the open
invoice; the member downloads the invoice PDF from "Rechnungen".

With LANDDESK_SHOTS set to a folder, the pages are saved there as PNGs.
"""

from __future__ import annotations

import os
from datetime import date

import facturx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.billing import services as billing
from booking.billing.models import Order, OrderStatus, PaymentMethod
from booking.invoicing.models import Invoice
from booking.passes.models import Company, Plan, PlanKind
from tests.browser.pages import flash, log_in, log_out
from tests.conftest import next_weekday

pytestmark = pytest.mark.browser


def _shot(page, name: str) -> None:
    folder = os.environ.get("LANDDESK_SHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide"


def test_invoices_from_a_phone_in_german(new_phone, db, create_user, create_location):
    operator = create_user("olga@example.org", role="operator", name="Olga")
    member = create_user("anna@example.org", name="Anna Muster")
    location = create_location(operator, name="Dorfbüro Lommatzsch")
    plan = Plan(
        name="Tagespass",
        kind=PlanKind.DAY_PASS,
        price_cents=1500,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    billing.save_payment_settings(
        db,
        operator,
        location.id,
        {
            "invoice": "on",
            "account_holder": "Dorfbüro Lommatzsch e. V.",
            "iban": "DE02120300000000202051",
        },
    )

    page = new_phone(locale="de-DE").new_page()
    log_in(page, "olga@example.org")
    page.goto("/operator/invoicing")
    expect(page.locator("h1")).to_have_text("Rechnungsangaben")
    form = page.locator(f"#location-{location.id} form.stack").last
    form.locator("input[name=name]").fill("Dorfbüro Lommatzsch e. V.")
    form.locator("input[name=street]").fill("Markt 1")
    form.locator("input[name=postcode]").fill("1623")
    form.locator("input[name=city]").fill("Lommatzsch")
    form.locator("input[name=tax_number]").fill("203/123/45678")
    form.locator("input[name=iban]").fill("DE02 1203 0000 0000 2020 51")
    form.locator("input[name=email]").fill("rechnung@dorfbuero.example")
    form.locator("input[name=phone]").fill("035241 123456")
    form.get_by_role("button", name="Rechnungsangaben speichern").tap()
    error = page.locator("p.field-error")
    expect(error).to_have_text(
        "Geben Sie eine deutsche Postleitzahl mit fünf Ziffern ein."
    )
    _fits(page)
    _shot(page, "settings-error")
    form = page.locator(f"#location-{location.id} form.stack").last
    form.locator("input[name=postcode]").fill("01623")
    form.get_by_role("button", name="Rechnungsangaben speichern").tap()
    expect(flash(page, "success")).to_have_text("Rechnungsangaben gespeichert.")
    _fits(page)
    _shot(page, "settings")

    order = billing.buy_plan(
        db,
        member,
        plan.id,
        day=next_weekday(1, min_days=3),
        payment_method=PaymentMethod.INVOICE,
    )
    page.goto("/operator/invoices")
    card = page.locator("li.card").first
    expect(card).to_contain_text("RE-000001")
    expect(card).to_contain_text("offen")
    _fits(page)
    _shot(page, "operator-open")
    card.locator("select[name=kind]").select_option("bank_transfer")
    card.get_by_role("button", name="Zahlung erfassen").tap()
    expect(flash(page, "success")).to_have_text("Zahlung erfasst.")
    db.rollback()
    db.expire_all()
    assert db.get(Order, order.id).status == OrderStatus.PAID
    page.goto("/operator/invoices?show=all")
    expect(page.locator("li.card").first).to_contain_text("bezahlt")
    _shot(page, "operator-all")
    log_out(page)

    log_in(page, "anna@example.org")
    page.goto("/account/")
    page.get_by_role("link", name="Rechnungen").first.tap()
    expect(page.locator("h1")).to_have_text("Rechnungen")
    card = page.locator("li.card").first
    expect(card).to_contain_text("RE-000001")
    expect(card).to_contain_text("15,00")
    assert f"{date.today().year}-" not in card.inner_text()  # no ISO dates
    _fits(page)
    _shot(page, "member-invoices")
    with page.expect_download() as download:
        card.get_by_role("link", name="PDF herunterladen").tap()
    with open(download.value.path(), "rb") as fh:
        pdf = fh.read()
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml" and b"RE-000001" in xml
    db.rollback()
    assert db.scalar(select(Invoice)).number == "RE-000001"
    log_out(page)

    # A public employer's administrator enters its Leitweg-ID.
    boss = create_user("amt@example.org", name="Amtsleiterin")
    company = Company(name="Gemeinde Käbschütztal", admin_user_id=boss.id)
    db.add(company)
    db.commit()
    log_in(page, "amt@example.org")
    page.goto("/account/invoices")
    form = page.locator("form[action*='/account/invoices/company/']")
    form.locator("textarea[name=billing_address]").fill(
        "Hauptstraße 3\n01665 Käbschütztal"
    )
    form.locator("input[name=leitweg_id]").fill("14627090-KT001")
    form.get_by_role("button", name="Speichern").tap()
    expect(page.locator("p.field-error")).to_have_text(
        "Eine Leitweg-ID sieht so aus: 04011000-12345-03."
    )
    expect(form.locator("textarea[name=billing_address]")).to_have_value(
        "Hauptstraße 3\n01665 Käbschütztal"
    )
    _fits(page)
    _shot(page, "company-details-error")
    form.locator("input[name=leitweg_id]").fill("14627090-KT001-12")
    form.get_by_role("button", name="Speichern").tap()
    expect(flash(page, "success")).to_have_text("Rechnungsangaben gespeichert.")
    _fits(page)
    _shot(page, "company-details")
    db.rollback()
    db.expire_all()
    assert db.get(Company, company.id).leitweg_id == "14627090-KT001-12"
