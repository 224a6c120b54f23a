"""Day passes: one (half) day at a location or anywhere in the network,
bought for a date through Stripe Checkout (against the emulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from booking.access import rules
from booking.access.services import check_access, create_door
from booking.billing import services as billing
from booking.billing.models import Order, OrderKind, OrderStatus, Payment, PaymentStatus
from booking.billing.network_settlement import NETWORK, network_settlement
from booking.bookings.models import BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import BookingConflict, InvalidInput, NotFound
from booking.passes import services as passes
from booking.passes.models import Pass, PassStatus
from booking.spaces.hours import local_instant
from booking.spaces.services import add_closure
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh


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
    return create_user("dora@example.org")


def _day_pass(db, location, *, half_day=False, price="12"):
    return passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "day_pass",
            "name": "Halbtagespass" if half_day else "Tagespass",
            "price": price,
            "location_id": location.id,
            "half_day": "1" if half_day else "",
        },
    )


def _book(db, member, desk, day, **kw):
    return create_booking(db, member, BookingRequest(desk.id, on=day, **kw))


def _paid(db, member, plan, day, stripe_emulator, webhooks, part=None):
    return buy_and_pay(
        db, member, plan.id, stripe_emulator, webhooks, day=day, part=part
    )


def test_a_day_pass_is_bought_for_a_date_and_pays_that_days_desk(
    db, location, desk, member, stripe_emulator, webhooks
):
    plan = _day_pass(db, location)
    assert plan.days == 1 and plan.valid_days is None and not plan.access_24_7
    day = next_weekday(2, min_days=3)
    order = billing.buy_plan(db, member, plan.id, day=day)
    assert order.kind == OrderKind.DAY_PASS and order.amount_cents == 1200
    pending = db.get(Pass, order.pass_id)
    assert pending.status == PassStatus.PENDING
    assert pending.valid_from == pending.valid_until == day
    # Not paid yet: it pays for nothing and the desk is held for payment.
    held = _book(db, member, desk, day)
    assert held.status == BookingStatus.PENDING_PAYMENT
    cancel_booking(db, member, held.id)

    billing.start_checkout(
        db, member, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment = db.get(Payment, order.payments[-1].id)
    session = stripe_emulator.request(
        "GET", f"/v1/checkout/sessions/{payment.stripe_checkout_session_id}"
    )
    assert session["mode"] == "payment" and session["amount_total"] == 1200
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    fresh(db)
    # The browser's return alone activates nothing: only the signed webhook.
    assert db.get(Pass, order.pass_id).status == PassStatus.PENDING
    webhooks.deliver()
    fresh(db)
    day_pass = db.get(Pass, order.pass_id)
    assert day_pass.status == PassStatus.ACTIVE

    booking = _book(db, member, desk, day)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.settled_by == "credit"
    assert passes.remaining(db, day_pass, day) == 0
    assert billing.order_for_booking(db, booking.id) is None  # nothing to pay
    # Another day is not covered: held for payment.
    other = _book(db, member, desk, day + timedelta(days=7))
    assert other.status == BookingStatus.PENDING_PAYMENT
    # Cancelling the booking returns the day to the pass.
    cancel_booking(db, member, booking.id)
    assert passes.remaining(db, day_pass, day) == 1


def test_a_half_day_pass_covers_its_half_only(
    db, location, desk, member, stripe_emulator, webhooks
):
    plan = _day_pass(db, location, half_day=True, price="7")
    day = next_weekday(1, min_days=3)
    with pytest.raises(InvalidInput) as error:
        billing.buy_plan(db, member, plan.id, day=day)
    assert error.value.field == "part"
    morning = _paid(db, member, plan, day, stripe_emulator, webhooks, part="am")
    assert morning.day_part == "am"
    full = _book(db, member, desk, day)
    assert full.status == BookingStatus.PENDING_PAYMENT  # a half pays no full day
    cancel_booking(db, member, full.id)
    afternoon = _book(db, member, desk, day, part="pm")
    assert afternoon.status == BookingStatus.PENDING_PAYMENT
    cancel_booking(db, member, afternoon.id)
    am = _book(db, member, desk, day, part="am")
    assert am.status == BookingStatus.CONFIRMED and am.settled_by == "credit"


def test_a_network_day_pass_counts_at_any_location_for_the_settlement(
    db, create_location, create_resource, create_user, member, stripe_emulator, webhooks
):
    admin = create_user(role="admin")
    plan = passes.create_plan(
        db, admin, {"kind": "day_pass", "name": "Netzwerk-Tagespass", "price": "15"}
    )
    assert plan.location_id is None
    first, second = create_location(), create_location()
    desks = []
    for loc in (first, second):
        d = create_resource(loc, "desk")
        d.price_day_cents = 2000
        desks.append(d)
    db.commit()
    day = next_weekday(3, min_days=3)
    _paid(db, member, plan, day, stripe_emulator, webhooks)
    booking = _book(db, member, desks[1], day)
    assert booking.status == BookingStatus.CONFIRMED
    # The billing settlement: the network sold it, the second space earns
    # its one day (15 € for 1 day); the first space used nothing.
    result = network_settlement(db, f"{day:%Y-%m}")
    by_location = {name: m for m in result.operators for name in m.locations}
    used_at = by_location[second.name]
    assert (used_at.days_used, used_at.days_from_others) == (1, 1)
    assert used_at.owed_cents == 1500
    assert by_location[first.name].days_used == 0
    seller = next(m for m in result.operators if m.key == NETWORK)
    assert seller.owes_cents == 1500


def test_bad_days_are_refused_before_any_payment(db, location, member, create_user):
    plan = _day_pass(db, location)
    saturday = next_weekday(5, min_days=1)  # closed (Mon-Fri by default)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    while yesterday.weekday() > 4:  # a past day the location was open
        yesterday -= timedelta(days=1)
    beyond = next_weekday(2, min_days=70)
    closure_day = next_weekday(0, min_days=8)
    add_closure(
        db,
        location.operators[0],
        location.id,
        starts_on=closure_day,
        ends_on=closure_day,
        reason="Ferien",
    )
    for day, words in (
        (saturday, "closed"),
        (yesterday, "over"),
        (beyond, "60 days"),
        (closure_day, "closed"),
    ):
        with pytest.raises(InvalidInput) as error:
            billing.buy_plan(db, member, plan.id, day=day)
        assert words in str(error.value.message), day
        assert error.value.field == "date"
    with pytest.raises(InvalidInput):
        billing.buy_plan(db, member, plan.id)  # no day
    with pytest.raises(InvalidInput):
        billing.buy_plan(db, member, plan.id, day=next_weekday(1), part="am")
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Order)) == 0
    assert db.scalar(select(func.count()).select_from(Pass)) == 0


def test_cancelled_before_the_day_refunds_in_full(
    db, location, desk, member, create_user, stripe_emulator, webhooks
):
    plan = _day_pass(db, location)
    day = next_weekday(4, min_days=3)
    day_pass = _paid(db, member, plan, day, stripe_emulator, webhooks)
    booking = _book(db, member, desk, day)
    # While a booking draws on it, the pass stays.
    with pytest.raises(BookingConflict) as error:
        billing.cancel_day_pass(db, member, day_pass.id)
    assert "booking" in str(error.value.message)
    # Nobody else can cancel it.
    with pytest.raises(NotFound):
        billing.cancel_day_pass(db, create_user(), day_pass.id)
    cancel_booking(db, member, booking.id)
    order = billing.cancel_day_pass(db, member, day_pass.id)
    fresh(db)
    assert db.get(Pass, day_pass.id).status == PassStatus.CANCELLED
    assert db.get(Order, order.id).status == OrderStatus.REFUNDED
    payment = db.get(Order, order.id).payments[-1]
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.stripe_refund_id and payment.refunded_cents == 1200
    intent = stripe_emulator.request(
        "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
    )
    assert intent["charges"]["data"][0]["amount_refunded"] == 1200
    # A cancelled pass pays for nothing.
    assert _book(db, member, desk, day).status == BookingStatus.PENDING_PAYMENT
    with pytest.raises(BookingConflict):
        billing.cancel_day_pass(db, member, day_pass.id)


def test_on_its_day_a_day_pass_can_no_longer_be_cancelled(
    db, location, member, stripe_emulator, webhooks
):
    plan = _day_pass(db, location)
    day = next_weekday(0, min_days=3)
    day_pass = _paid(db, member, plan, day, stripe_emulator, webhooks)
    morning = local_instant(day, 8 * 60, ZoneInfo(location.timezone))
    with pytest.raises(BookingConflict) as error:
        billing.cancel_day_pass(db, member, day_pass.id, now=morning)
    assert "day before" in str(error.value.message)
    fresh(db)
    assert db.get(Pass, day_pass.id).status == PassStatus.ACTIVE


def test_operator_refund_with_a_reason_ends_the_pass(
    db, location, member, stripe_emulator, webhooks
):
    plan = _day_pass(db, location)
    day_pass = _paid(
        db, member, plan, next_weekday(2, min_days=3), stripe_emulator, webhooks
    )
    payment = billing.order_for_pass(db, day_pass.id).payments[-1]
    with pytest.raises(InvalidInput):
        billing.refund_payment(db, location.operators[0], payment.id, reason=" ")
    billing.refund_payment(
        db, location.operators[0], payment.id, reason="Heizung kaputt"
    )
    fresh(db)
    assert db.get(Pass, day_pass.id).status == PassStatus.CANCELLED
    payment = db.get(Payment, payment.id)
    assert payment.status == PaymentStatus.REFUNDED and "Heizung kaputt" in payment.note


def test_a_paid_day_pass_opens_the_door_in_opening_hours_that_day(
    db, location, member, stripe_emulator, webhooks
):
    door, _secret = create_door(
        db, location.operators[0], location.id, {"name": "Eingang", "kind": "landdesk"}
    )
    plan = _day_pass(db, location)
    day = next_weekday(1, min_days=3)
    tz = ZoneInfo(location.timezone)
    noon = local_instant(day, 12 * 60, tz)
    assert check_access(db, member, door, noon).reason == rules.NO_BOOKING
    order = billing.buy_plan(db, member, plan.id, day=day)
    # Bought but not paid: still closed.
    assert check_access(db, member, door, noon).allowed is False
    billing.start_checkout(
        db, member, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    stripe_emulator.pay(
        db.get(Payment, order.payments[-1].id).stripe_checkout_session_id
    )
    webhooks.deliver()
    fresh(db)
    decision = check_access(db, member, door, noon)
    assert decision.allowed and decision.reason == rules.DAY_PASS
    # From 30 minutes before opening (08:00) until closing (18:00).
    assert check_access(db, member, door, local_instant(day, 7 * 60 + 31, tz)).allowed
    early = check_access(db, member, door, local_instant(day, 7 * 60, tz))
    assert not early.allowed and early.reason == rules.TOO_EARLY
    assert not check_access(db, member, door, local_instant(day, 18 * 60, tz)).allowed
    # Not the next day.
    next_noon = local_instant(day + timedelta(days=1), 12 * 60, tz)
    assert not check_access(db, member, door, next_noon).allowed


def test_phone_page_buys_a_day_pass_without_javascript(
    db, client, auth, location, member, stripe_emulator
):
    plan = _day_pass(db, location)
    day = next_weekday(2, min_days=3)
    auth.login(member.email)
    page = client.get(f"/l/{location.slug}?date={day.isoformat()}").get_data(
        as_text=True
    )
    assert f'action="/plans/{plan.id}/buy"' in page and "Tagespass" in page
    token = auth.csrf(f"/l/{location.slug}")
    # Without the CSRF token nothing is bought.
    refused = client.post(f"/plans/{plan.id}/buy", data={"date": day.isoformat()})
    assert refused.status_code == 400
    assert db.scalar(select(func.count()).select_from(Order)) == 0
    response = client.post(
        f"/plans/{plan.id}/buy", data={"date": day.isoformat(), "csrf_token": token}
    )
    assert response.status_code == 303 and "/billing/orders/" in response.location
    fresh(db)
    order = db.scalar(select(Order))
    assert order.kind == OrderKind.DAY_PASS
    # The plans page lists it, with cancel-and-refund before the day.
    plans_page = client.get("/plans").get_data(as_text=True)
    assert f"/day-passes/{order.pass_id}/cancel" in plans_page
    cancelled = client.post(
        f"/day-passes/{order.pass_id}/cancel", data={"csrf_token": auth.csrf("/plans")}
    )
    assert cancelled.status_code == 303
    fresh(db)
    assert db.get(Pass, order.pass_id).status == PassStatus.CANCELLED
    # A bad date: the message, nothing bought.
    back = client.post(
        f"/plans/{plan.id}/buy",
        data={
            "date": "2020-01-01",
            "csrf_token": auth.csrf("/plans"),
            "back": "/plans",
        },
        follow_redirects=True,
    )
    assert "already over" in back.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Order)) == 1


def test_api_buys_reads_and_cancels_a_day_pass(
    db, api, location, member, create_user, stripe_emulator, webhooks
):
    plan = _day_pass(db, location)
    day = next_weekday(3, min_days=3)
    client, headers = api(member), {}
    bad = client.post(
        "/api/v1/day-passes",
        json={"plan_id": plan.id, "date": "2020-01-01"},
        headers=headers,
    )
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_input"
    created = client.post(
        "/api/v1/day-passes",
        json={"plan_id": plan.id, "date": day.isoformat()},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "pending" and body["date"] == day.isoformat()
    assert body["part"] == "full" and body["payment"]["amount_cents"] == 1200
    checkout = client.post(body["payment"]["checkout"], headers=headers)
    assert checkout.status_code == 200
    assert checkout.get_json()["payment_url"].startswith(stripe_emulator.url)
    order = db.get(Order, body["payment"]["order_id"])
    stripe_emulator.pay(order.payments[-1].stripe_checkout_session_id)
    webhooks.deliver()
    shown = client.get(f"/api/v1/day-passes/{body['id']}", headers=headers).get_json()
    assert shown["status"] == "active" and shown["payment"]["status"] == "paid"
    listed = client.get("/api/v1/day-passes", headers=headers).get_json()
    assert [p["id"] for p in listed] == [body["id"]]
    # Someone else's: 404, and they cannot cancel it.
    stranger = api(create_user())
    assert stranger.get(f"/api/v1/day-passes/{body['id']}").status_code == 404
    assert stranger.post(f"/api/v1/day-passes/{body['id']}/cancel").status_code == 404
    cancelled = client.post(f"/api/v1/day-passes/{body['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["payment"]["status"] == "refunded"
    again = client.post(f"/api/v1/day-passes/{body['id']}/cancel", headers=headers)
    assert again.status_code == 409
    assert (
        client.post(
            "/api/v1/day-passes",
            json={"plan_id": 9999, "date": day.isoformat()},
            headers=headers,
        ).status_code
        == 404
    )
