"""Found walking the member's journey on the demo (no Stripe key): a page
offers only the day passes that can be paid there, a day pass's order and
invoice line read as German dates, the order page leads on to the invoice."""

from __future__ import annotations

import re

import pytest

from booking.billing import services as billing
from booking.billing.models import Order
from booking.invoicing import queries as invoice_queries
from booking.invoicing import services as invoicing
from booking.passes.models import Plan, PlanKind
from tests.conftest import csrf_token, next_weekday

IBAN = "DE89 3704 0044 0532 0130 00"
ISSUER = {
    "name": "Dorfbüro Eilenburg e. V.",
    "street": "Markt 1",
    "postcode": "04838",
    "city": "Eilenburg",
    "tax_number": "232/140/12345",
    "iban": "DE89370400440532013000",
    "email": "rechnung@dorfbuero.example",
    "phone": "03423 123456",
    "payment_terms_days": "14",
}
GERMAN = {"Accept-Language": "de"}


@pytest.fixture
def app_config(app_config):
    """No Stripe key, as in the demo."""
    return {k: v for k, v in app_config.items() if not k.startswith("STRIPE_")}


@pytest.fixture
def space(db, create_user, create_location):
    operator = create_user("betrieb@example.org", role="operator")
    location = create_location(operator, name="Eilenburg")
    plans = [
        Plan(
            name=name,
            kind=PlanKind.DAY_PASS,
            price_cents=cents,
            location_id=location_id,
            half_day=half,
            is_active=True,
        )
        for name, cents, location_id, half in (
            ("Halbtagespass Eilenburg", 700, location.id, True),
            ("Netzwerk-Tagespass", 1500, None, False),
        )
    ]
    db.add_all(plans)
    db.commit()
    return location, operator, plans


def _settings(db, operator, location):
    billing.save_payment_settings(
        db,
        operator,
        location.id,
        {
            "invoice": "1",
            "on_site": "1",
            "invoice_due_days": "14",
            "invoice_confirms": "1",
            "account_holder": "Dorfbüro Eilenburg e. V.",
            "iban": IBAN,
        },
    )


def _login(client, email):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": "password123", "csrf_token": token}
    )
    assert response.status_code in (302, 303)


def test_the_space_page_offers_only_day_passes_that_can_be_paid_there(
    db, client, space, create_user
):
    location, operator, _plans = space
    create_user("lena@example.org", name="Lena")
    _login(client, "lena@example.org")
    day = next_weekday(2)
    url = f"/l/{location.slug}?date={day.isoformat()}"
    # No way to pay set up yet: no day pass is offered at all (before, the
    # network pass was, and buying it ended in "cannot be paid here").
    page = client.get(url, headers=GERMAN).get_data(as_text=True)
    assert "Tagespass für" not in page
    assert "Netzwerk-Tagespass" not in page
    _settings(db, operator, location)
    page = client.get(url, headers=GERMAN).get_data(as_text=True)
    assert "Halbtagespass Eilenburg für 7,00" in page
    # Network-wide plans are paid through Stripe only: not without a key.
    assert "Netzwerk-Tagespass" not in page
    plans_page = client.get("/plans", headers=GERMAN).get_data(as_text=True)
    assert "Halbtagespass Eilenburg" in plans_page
    assert "Netzwerk-Tagespass" not in plans_page


def test_a_half_day_pass_order_reads_as_a_german_date_and_leads_to_the_invoice(
    db, client, space, create_user
):
    location, operator, plans = space
    _settings(db, operator, location)
    invoicing.save_issuer(db, operator, location.id, ISSUER)
    lena = create_user("lena@example.org", name="Lena", locale="de")
    day = next_weekday(2)
    order = billing.buy_plan(
        db, lena, plans[0].id, day=day, part="am", payment_method="invoice"
    )
    line = f"Halbtagespass Eilenburg {day:%d.%m.%Y}, vormittags"
    assert order.description == line
    assert not re.search(r"\d{4}-\d\d-\d\d| am$", order.description)
    invoice = next(
        i for i in invoice_queries.visible_invoices(db, lena) if i.kind == "invoice"
    )
    assert [item.description for item in invoice.lines] == [line]
    _login(client, "lena@example.org")
    text = client.get(f"/billing/orders/{order.id}", headers=GERMAN).get_data(
        as_text=True
    )
    assert line in text
    # The transfer names the invoice's number, as the invoice PDF asks.
    assert f"Rechnung {invoice.number}, Bestellung {order.id}" in text
    assert f'href="/api/v1/invoices/{invoice.id}/pdf"' in text
    assert f"Rechnung {invoice.number} (PDF)" in text
    afternoon = billing.buy_plan(db, lena, plans[0].id, day=day, part="pm")
    assert db.get(Order, afternoon.id).description.endswith(", nachmittags")
    # Not yet told how to pay: no sale, no invoice, no link to one.
    text = client.get(f"/billing/orders/{afternoon.id}", headers=GERMAN).get_data(
        as_text=True
    )
    assert "/pdf" not in text


def test_a_day_pass_is_offered_only_while_the_purchase_would_take_it(db, space):
    """The page asks the purchase's own check: a day whose opening hours are
    over offers no pass (it offered one that "That day is already over."
    then refused); a half-day pass stays on sale while the afternoon is."""
    from datetime import UTC, datetime

    from booking.passes.services import day_pass_on_sale

    location, _operator, (half_day, _network) = space
    full_day = Plan(
        name="Tagespass Eilenburg",
        kind=PlanKind.DAY_PASS,
        price_cents=1200,
        location_id=location.id,
        is_active=True,
    )
    db.add(full_day)
    db.commit()
    day = next_weekday(2)
    hours = location.opening_hours[
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    ]
    from zoneinfo import ZoneInfo

    def at(clock: str) -> datetime:
        local = datetime.fromisoformat(f"{day.isoformat()}T{clock}")
        return local.replace(tzinfo=ZoneInfo(location.timezone)).astimezone(UTC)

    opens, closes = hours[0][0], hours[-1][1]
    assert day_pass_on_sale(db, full_day, day, at(opens))
    assert day_pass_on_sale(db, half_day, day, at(opens))
    assert not day_pass_on_sale(db, full_day, day, at(closes))
    assert not day_pass_on_sale(db, half_day, day, at(closes))


def test_the_space_page_offers_no_day_pass_once_the_day_is_over(
    db, client, create_user, create_location
):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    # A zone where it is past 02:00 and before 22:00 now: there, a space open
    # 00:00-01:00 has ended its day, and tomorrow is still to come.
    zone = next(
        name
        for name in ("Europe/Berlin", "Asia/Tokyo", "America/New_York")
        if 2 <= datetime.now(ZoneInfo(name)).hour < 22
    )
    operator = create_user("early@example.org", role="operator")
    location = create_location(
        operator,
        timezone=zone,
        opening_hours={
            day: [["00:00", "01:00"]]
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    )
    db.add(
        Plan(
            name="Frühpass",
            kind=PlanKind.DAY_PASS,
            price_cents=500,
            location_id=location.id,
            is_active=True,
        )
    )
    db.commit()
    _settings(db, operator, location)
    create_user("lena@example.org", name="Lena")
    _login(client, "lena@example.org")
    today = datetime.now(ZoneInfo(zone)).date()

    page = client.get(f"/l/{location.slug}", headers=GERMAN).get_data(as_text=True)
    assert "Frühpass" not in page
    tomorrow = (today + timedelta(days=1)).isoformat()
    page = client.get(f"/l/{location.slug}?date={tomorrow}", headers=GERMAN).get_data(
        as_text=True
    )
    assert "Frühpass Eilenburg" not in page and "Frühpass für 5,00" in page
