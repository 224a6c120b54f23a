"""Network-wide vs per-location plans, the settlement report, rooms by the hour."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.billing import services as billing
from booking.billing.network_settlement import network_settlement
from booking.bookings.models import BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.passes import services as passes
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh


@pytest.fixture
def network(create_location, create_resource, create_user, db):
    admin = create_user("netz@example.org", role="admin")
    spaces = {}
    for name in ("Eilenburg", "Thallwitz"):
        location = create_location(name=name, slug=name.lower())
        desk = create_resource(location, "desk", name=f"Desk {name}")
        desk.price_day_cents = 1500
        room = create_resource(location, "room", name=f"Room {name}", capacity=6)
        room.price_hour_cents = 1200
        spaces[name] = (location, desk, room)
    db.commit()
    return admin, spaces


def _membership(db, actor, *, location_id=None, days=5, room_hours=None, name=None):
    return passes.create_plan(
        db,
        actor,
        {
            "kind": "membership",
            "name": name or ("Netz" if location_id is None else "Lokal"),
            "price": "59",
            "days": str(days),
            "room_hours": str(room_hours or ""),
            "location_id": location_id or "",
        },
    )


def test_network_plan_days_count_everywhere_and_are_settled_per_location(
    db, client, auth, network, create_user, stripe_emulator, webhooks
):
    admin, spaces = network
    eilenburg, thallwitz = spaces["Eilenburg"], spaces["Thallwitz"]
    net_plan = _membership(db, admin)
    local_plan = _membership(db, eilenburg[0].operators[0], location_id=eilenburg[0].id)
    roaming, local = (
        create_user("roaming@example.org"),
        create_user("local@example.org"),
    )
    buy_and_pay(db, roaming, net_plan.id, stripe_emulator, webhooks)
    buy_and_pay(db, local, local_plan.id, stripe_emulator, webhooks)

    day = next_weekday(1, min_days=3)
    for offset, (location, desk, _) in enumerate((eilenburg, thallwitz)):
        on = day + timedelta(days=offset)
        booking = create_booking(db, roaming, BookingRequest(desk.id, on=on))
        assert booking.status == BookingStatus.CONFIRMED, location.name
    # The per-location plan pays only at its own location.
    assert (
        create_booking(
            db, local, BookingRequest(eilenburg[1].id, on=day + timedelta(days=7))
        ).status
        == BookingStatus.CONFIRMED
    )
    assert (
        create_booking(
            db, local, BookingRequest(thallwitz[1].id, on=day + timedelta(days=14))
        ).status
        == BookingStatus.PENDING_PAYMENT
    )
    # Only network-plan days are settled between the operators: each space
    # earns its day of the network plan (59 € / 5 days = 11.80 €); the local
    # plan's day at Eilenburg is its own sale, owed by nobody.
    owed: dict[str, int] = {}
    used: dict[str, int] = {}
    for month in sorted({f"{day:%Y-%m}", f"{day + timedelta(days=7):%Y-%m}"}):
        for m in network_settlement(db, month).operators:
            for name in m.locations:
                owed[name] = owed.get(name, 0) + m.owed_cents
                used[name] = used.get(name, 0) + m.days_from_others
    assert used == {"Eilenburg": 1, "Thallwitz": 1}
    assert owed == {"Eilenburg": 1180, "Thallwitz": 1180}
    auth.login(eilenburg[0].operators[0].email)
    until = day + timedelta(days=1)
    # The settlement page moved to billing (per month, with euro amounts):
    # 59 € for 5 days is 11.80 € a day, owed by the network to each space.
    response = client.get(
        f"/operator/settlement?from={day.isoformat()}&to={until.isoformat()}"
    )
    assert response.status_code == 301
    assert f"month={day:%Y-%m}" in response.location
    if until.month == day.month:
        page = client.get(response.location).get_data(as_text=True)
        assert page.count("€11.80") >= 2 and "€23.60" in page
    # The location page tells each member what is left there.
    auth.logout()
    auth.login(local.email)
    page = client.get(f"/l/thallwitz?date={day.isoformat()}").get_data(as_text=True)
    assert "days left this month" not in page
    local_day = (day + timedelta(days=7)).isoformat()
    page = client.get(f"/l/eilenburg?date={local_day}").get_data(as_text=True)
    assert "Lokal:" in page and "4 days left this month" in page


def _hours(location, day, start: int, minutes: int) -> tuple[datetime, datetime]:
    starts = datetime.combine(day, time(start), ZoneInfo(location.timezone))
    return starts, starts + timedelta(minutes=minutes)


def test_rooms_by_the_hour_are_priced_per_hour_or_paid_from_included_hours(
    db, network, create_user, stripe_emulator, webhooks
):
    admin, spaces = network
    location, _, room = spaces["Eilenburg"]
    day = next_weekday(2, min_days=3)
    guest = create_user("gast@example.org")
    starts, ends = _hours(location, day, 9, 90)
    paid = create_booking(
        db, guest, BookingRequest(room.id, starts_at=starts, ends_at=ends)
    )
    assert paid.status == BookingStatus.PENDING_PAYMENT
    assert billing.order_for_booking(db, paid.id).amount_cents == 1800  # 1.5 h x 12 €

    member = create_user("mitglied@example.org")
    plan = _membership(db, admin, room_hours=2, name="Netz mit Raum")
    pass_ = buy_and_pay(db, member, plan.id, stripe_emulator, webhooks)
    assert pass_.room_hours == 2
    starts, ends = _hours(location, day, 11, 90)
    covered = create_booking(
        db, member, BookingRequest(room.id, starts_at=starts, ends_at=ends)
    )
    assert covered.status == BookingStatus.CONFIRMED
    assert covered.settled_by == "credit"
    assert passes.remaining_room_minutes(db, pass_, day) == 30
    # Desk days are a separate allowance.
    assert passes.remaining(db, pass_, day) == 5
    # One hour does not fit in the 30 minutes left: paid in full.
    starts, ends = _hours(location, day, 14, 60)
    over = create_booking(
        db, member, BookingRequest(room.id, starts_at=starts, ends_at=ends)
    )
    assert over.status == BookingStatus.PENDING_PAYMENT
    assert billing.order_for_booking(db, over.id).amount_cents == 1200
    cancel_booking(db, member, covered.id)
    fresh(db)
    assert passes.remaining_room_minutes(db, pass_, day) == 120
    summary = passes.credit_summary(
        db, member, location.id, day, datetime.now(ZoneInfo("UTC"))
    )
    assert [(s.remaining, s.room_minutes) for s in summary] == [(5, 120)]
    # Room minutes never show up as desk-days in the settlement report.
    result = network_settlement(db, f"{day:%Y-%m}")
    assert [m.days_used for m in result.operators] == [0] * len(result.operators)
    assert sum(m.owes_cents for m in result.operators) == 0
