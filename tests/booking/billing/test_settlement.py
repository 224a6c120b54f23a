"""The network settlement with euro amounts: what was sold and used where,
who owes whom, per operator and month; the page and its CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from booking.billing.network_settlement import network_settlement
from booking.bookings.services import BookingRequest, create_booking
from booking.db import utcnow
from booking.passes import services as passes
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay


@pytest.fixture
def network(create_location, create_resource, create_user, db):
    admin = create_user("netz@example.org", role="admin")
    spaces = {}
    for name in ("Eilenburg", "Thallwitz"):
        operator = create_user(f"betrieb-{name.lower()}@example.org", role="operator")
        operator.name = f"Betrieb {name}"
        location = create_location(operator, name=name, slug=name.lower())
        desk = create_resource(location, "desk", name=f"Desk {name}")
        desk.price_day_cents = 1500
        spaces[name] = (location, desk, operator)
    db.commit()
    return admin, spaces


def _plan(db, actor, **values):
    return passes.create_plan(db, actor, values)


def test_days_on_passes_of_others_are_owed_by_the_seller(
    db, client, auth, network, create_user, stripe_emulator, webhooks
):
    admin, spaces = network
    (eilenburg, e_desk, e_op), (_thallwitz, t_desk, t_op) = (
        spaces["Eilenburg"],
        spaces["Thallwitz"],
    )
    # Network pack: 100 € for 10 days (10 € a day); an Eilenburg pack, only
    # valid there: 50 € for 5 days.
    net = _plan(
        db,
        admin,
        kind="pack",
        name="Netz-10er",
        price="100",
        days="10",
        valid_days="180",
    )
    local = _plan(
        db,
        e_op,
        kind="pack",
        name="Eilenburg-5er",
        price="50",
        days="5",
        valid_days="180",
        location_id=eilenburg.id,
    )
    roaming, villager = create_user("roam@example.org"), create_user("dorf@example.org")
    buy_and_pay(db, roaming, net.id, stripe_emulator, webhooks)
    buy_and_pay(db, villager, local.id, stripe_emulator, webhooks)
    day = next_weekday(1, min_days=3)
    if (day + timedelta(days=7)).month != day.month:  # all in one month
        day = next_weekday(1, after=(day + timedelta(days=7)).replace(day=1))
    for offset, desk in ((0, e_desk), (1, t_desk), (7, t_desk)):
        create_booking(db, roaming, BookingRequest(desk.id, on=day + timedelta(offset)))
    create_booking(db, villager, BookingRequest(e_desk.id, on=day + timedelta(2)))

    result = network_settlement(db, f"{day:%Y-%m}")
    rows = {m.name: m for m in result.operators}
    network_row = rows["Network (network-wide plans)"]
    assert network_row.owes_cents == 3000 and network_row.balance_cents == -3000
    e_row, t_row = rows["Betrieb Eilenburg"], rows["Betrieb Thallwitz"]
    assert (e_row.days_used, e_row.days_from_others, e_row.owed_cents) == (2, 1, 1000)
    assert (t_row.days_used, t_row.days_from_others, t_row.owed_cents) == (2, 2, 2000)
    assert e_row.owes_cents == 0 and t_row.balance_cents == 2000
    sold_month = f"{utcnow():%Y-%m}"
    sales = network_settlement(db, sold_month)
    sold = {m.name: (m.sold_count, m.sold_cents) for m in sales.operators}
    assert sold["Network (network-wide plans)"] == (1, 10000)
    assert sold["Betrieb Eilenburg"] == (1, 5000)
    assert sorted((f.seller, f.user, f.days, f.cents) for f in result.flows) == [
        ("Network (network-wide plans)", "Betrieb Eilenburg", 1, 1000),
        ("Network (network-wide plans)", "Betrieb Thallwitz", 2, 2000),
    ]

    auth.login(t_op.email)
    page = client.get(f"/billing/settlement?month={day:%Y-%m}").get_data(as_text=True)
    assert "receives €20.00" in page and "pays €30.00" in page
    response = client.get(f"/billing/settlement?month={day:%Y-%m}&format=csv")
    assert response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_name = {row["Operator"]: row for row in table}
    assert by_name["Betrieb Thallwitz"]["Balance (EUR)"] == "20.00"
    assert by_name["Network (network-wide plans)"]["Balance (EUR)"] == "-30.00"
    assert by_name["Betrieb Eilenburg"]["Locations"] == "Eilenburg"
    assert by_name["Betrieb Eilenburg"]["Month"] == f"{day:%B %Y}"
    # From the German pages: German headers, month in words, decimal comma.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    german = client.get(f"/billing/settlement?month={day:%Y-%m}&format=csv")
    text = german.get_data(as_text=True).removeprefix("\ufeff")
    table = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    row = next(r for r in table if r["Betreiber"] == "Betrieb Thallwitz")
    assert row["Saldo (EUR)"] == "20,00"
    assert not re.search(r"\d{4}-\d{2}", text), text
    del client.environ_base["HTTP_ACCEPT_LANGUAGE"]
    # Members do not see it.
    auth.logout()
    auth.login(roaming.email)
    assert client.get("/billing/settlement").status_code in (302, 403, 404)
