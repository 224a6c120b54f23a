"""Prices before choosing (issue 17 point 2): every bookable option says
what it costs this person, by the same rule that settles the booking."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from booking.bookings.services import BookingRequest, create_booking
from booking.passes import services as passes
from booking.passes.models import Pass, PassStatus
from tests.conftest import next_weekday


@pytest.fixture
def space(db, create_location, create_resource, create_user):
    location = create_location(create_user(role="operator"), slug="alte-schule")
    paid = create_resource(location, "desk", "Fensterplatz")
    paid.price_day_cents, paid.price_half_day_cents = 1500, 900
    free = create_resource(location, "desk", "Ecke")
    room = create_resource(location, "room", "Lehrerzimmer", capacity=6)
    room.price_hour_cents = 1200
    db.commit()
    return location, paid, free, room


def _pack(db, location, member, credits=10):
    plan = passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "pack",
            "name": "10er-Karte",
            "price": "120,00",
            "days": str(credits),
            "valid_days": "90",
            "location_id": location.id,
        },
    )
    db.add(
        Pass(
            plan_id=plan.id,
            kind="pack",
            user_id=member.id,
            status=PassStatus.ACTIVE,
            location_id=location.id,
            credits=credits,
            valid_from=date.today() - timedelta(days=1),
            valid_until=date.today() + timedelta(days=90),
        )
    )
    db.commit()


def _resource_text(page: str, name: str) -> str:
    start = page.index(f"<strong>{name}</strong>")
    return page[start : page.index("</li>", start)]


def test_visitors_and_members_see_the_price_incl_vat(client, space):
    _, paid, free, room = space
    day = next_weekday(1)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert (
        'Ganzer Tag: <span class="cost cost-price">15,00\xa0€ inkl. MwSt.</span>'
        in (_resource_text(page, "Fensterplatz"))
    )
    assert 'halber Tag: <span class="cost cost-price">9,00\xa0€ inkl. MwSt.' in (
        _resource_text(page, "Fensterplatz")
    )
    assert "kostenlos" in _resource_text(page, "Ecke")
    assert "12,00\xa0€ pro Stunde inkl. MwSt." in _resource_text(page, "Lehrerzimmer")


def test_a_pack_holder_sees_one_credit_and_the_booking_takes_it(
    client, auth, db, space, create_user
):
    location, paid, _, _ = space
    member = create_user("m@example.org")
    _pack(db, location, member)
    auth.login("m@example.org")
    day = next_weekday(2)
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert "1 day from 10er-Karte (10 left)" in _resource_text(page, "Fensterplatz")
    confirm = client.get(
        f"/bookings/new?resource_id={paid.id}&date={day.isoformat()}"
    ).get_data(as_text=True)
    assert (
        'Costs: <span class="cost cost-pass">1 day from 10er-Karte (10 left)' in confirm
    )
    # The same rule settles it: a credit, no payment.
    booking = create_booking(db, member, BookingRequest(paid.id, on=day))
    assert booking.status == "confirmed" and booking.settled_by == "credit"
    page = client.get(f"/l/alte-schule?date={next_weekday(3).isoformat()}").get_data(
        as_text=True
    )
    assert "(9 left)" in _resource_text(page, "Fensterplatz")


def test_without_credits_left_the_price_shows_and_is_charged(
    client, auth, db, space, create_user
):
    location, paid, _, _ = space
    member = create_user("m@example.org")
    _pack(db, location, member, credits=1)
    create_booking(db, member, BookingRequest(paid.id, on=next_weekday(1)))
    auth.login("m@example.org")
    day = next_weekday(1) + timedelta(days=7)
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert "€15.00 incl. VAT" in _resource_text(page, "Fensterplatz")
    booking = create_booking(db, member, BookingRequest(paid.id, on=day))
    assert booking.status == "pending_payment"
