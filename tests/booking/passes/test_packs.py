"""Multi-day packs: N days valid for a while, one day per booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from booking.billing.models import Order, OrderKind
from booking.bookings.models import BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import Forbidden
from booking.passes import services as passes
from booking.passes.models import CreditEntry, PassStatus
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh, weekdays


@pytest.fixture
def location(create_location):
    return create_location(cancel_cutoff_hours=24, horizon_days=60)


@pytest.fixture
def desk(location, create_resource, db):
    resource = create_resource(location, "desk")
    resource.price_day_cents = 1500
    resource.price_half_day_cents = 900
    db.commit()
    return resource


@pytest.fixture
def member(create_user):
    return create_user("paula@example.org")


def _pack(db, location, *, days=10, valid_days=90):
    return passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "pack",
            "name": f"{days}er-Karte",
            "price": "120,00",
            "days": str(days),
            "valid_days": str(valid_days),
            "location_id": location.id,
        },
    )


def _book(db, member, desk, day, **kw):
    return create_booking(db, member, BookingRequest(desk.id, on=day, **kw))


def test_a_pack_is_paid_once_then_used_one_day_per_booking(
    db, location, desk, member, stripe_emulator, webhooks
):
    plan = _pack(db, location)
    pack = buy_and_pay(db, member, plan.id, stripe_emulator, webhooks)
    assert pack.status == PassStatus.ACTIVE
    assert pack.credits == 10 and pack.stripe_subscription_id is None
    assert pack.valid_until == pack.valid_from + timedelta(days=89)
    order = db.scalar(select(Order).where(Order.pass_id == pack.id))
    assert order.kind == OrderKind.PACK and order.amount_cents == 12000
    session = stripe_emulator.request(
        "GET", f"/v1/checkout/sessions/{order.payments[-1].stripe_checkout_session_id}"
    )
    assert session["mode"] == "payment"  # paid once, no subscription

    first, second, third = weekdays(next_weekday(0, min_days=3), 3)
    assert _book(db, member, desk, first).status == BookingStatus.CONFIRMED
    # A half day also takes one day of the pack.
    half = _book(db, member, desk, second, part="am")
    assert half.status == BookingStatus.CONFIRMED and half.settled_by == "credit"
    assert passes.remaining(db, pack, first) == 8
    # The pack counts in total, not per month.
    assert passes.remaining(db, pack, first + timedelta(days=40)) == 8
    booking = _book(db, member, desk, third)
    assert passes.remaining(db, pack, first) == 7

    # Cancelled before the cut-off: the day comes back.
    cancel_booking(db, member, booking.id)
    assert passes.remaining(db, pack, first) == 8
    summary = passes.credit_summary(db, member, location.id, first, datetime.now(UTC))
    assert [(s.kind, s.remaining) for s in summary] == [("pack", 8)]


def test_cancelling_after_the_cutoff_keeps_the_day_used(
    db, location, desk, member, stripe_emulator, webhooks
):
    pack = buy_and_pay(db, member, _pack(db, location).id, stripe_emulator, webhooks)
    booking = _book(db, member, desk, next_weekday(1, min_days=3))
    late = booking.starts_at - timedelta(hours=2)
    with pytest.raises(Forbidden):
        cancel_booking(db, member, booking.id, now=late)
    fresh(db)
    assert passes.remaining(db, pack, booking.booked_on) == 9


def test_the_last_day_of_a_pack_then_payment(
    db, location, desk, member, stripe_emulator, webhooks
):
    pack = buy_and_pay(
        db, member, _pack(db, location, days=2).id, stripe_emulator, webhooks
    )
    days = weekdays(next_weekday(0, min_days=3), 3)
    assert [_book(db, member, desk, d).status for d in days] == [
        BookingStatus.CONFIRMED,
        BookingStatus.CONFIRMED,
        BookingStatus.PENDING_PAYMENT,
    ]
    assert passes.remaining(db, pack, days[0]) == 0
    used = db.scalar(
        select(func.sum(CreditEntry.delta)).where(CreditEntry.pass_id == pack.id)
    )
    assert used == -2


def test_an_expired_pack_pays_for_nothing(
    db, location, desk, member, stripe_emulator, webhooks
):
    pack = buy_and_pay(
        db, member, _pack(db, location, valid_days=7).id, stripe_emulator, webhooks
    )
    inside = pack.valid_from + timedelta(days=1)
    while inside.weekday() > 4:
        inside += timedelta(days=1)
    assert inside <= pack.valid_until
    after = next_weekday(2, after=pack.valid_until, min_days=1)
    assert _book(db, member, desk, after).status == BookingStatus.PENDING_PAYMENT
    assert passes.remaining(db, pack, after) == 10  # nothing was taken
    # The booking page does not offer an expired pack for that day.
    now = datetime.now(UTC)
    assert passes.credit_summary(db, member, location.id, after, now) == []
    assert _book(db, member, desk, inside).status == BookingStatus.CONFIRMED


def test_a_pack_of_one_location_is_not_valid_at_another(
    db,
    location,
    desk,
    member,
    create_location,
    create_resource,
    stripe_emulator,
    webhooks,
):
    buy_and_pay(db, member, _pack(db, location).id, stripe_emulator, webhooks)
    elsewhere = create_resource(create_location(), "desk")
    elsewhere.price_day_cents = 1200
    db.commit()
    day = next_weekday(3, min_days=3)
    assert _book(db, member, elsewhere, day).status == BookingStatus.PENDING_PAYMENT
    assert _book(db, member, desk, day + timedelta(days=7)).status == (
        BookingStatus.CONFIRMED
    )
