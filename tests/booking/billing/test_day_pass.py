"""Paying for a desk day through Stripe Checkout (against the emulator)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from booking.billing import services as billing
from booking.billing.models import (
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    StripeEvent,
)
from booking.bookings.models import Booking, BookingSlot, BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import BookingConflict
from tests.conftest import next_weekday
from tests.support.stripe_fixtures import sign

DECLINED_CARD = "4000000000000341"


@pytest.fixture
def desk(create_location, create_resource, db):
    location = create_location(cancel_cutoff_hours=24)
    resource = create_resource(location, "desk", name="Fensterplatz")
    resource.price_day_cents = 1500
    resource.price_half_day_cents = 900
    db.commit()
    return resource


@pytest.fixture
def member(create_user):
    return create_user("anna@example.org")


def _fresh(db):
    """Requests run in their own sessions: end ours and forget what it read."""
    db.rollback()
    db.expire_all()


def _book(db, user, resource, day=None, now=None):
    day = day or next_weekday(1, min_days=3)
    return create_booking(db, user, BookingRequest(resource.id, on=day), now=now)


def _checkout(db, user, booking):
    order = billing.order_for_booking(db, booking.id)
    url = billing.start_checkout(
        db, user, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment = db.get(Payment, order.payments[-1].id)
    return order, payment, url


def test_free_resource_confirms_at_once_without_an_order(
    db, create_location, create_resource, member
):
    free = create_resource(create_location(), "desk")
    booking = _book(db, member, free)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.settled_by is None
    assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_paid_desk_is_held_then_confirmed_by_the_webhook(
    db, desk, member, stripe_emulator, webhooks
):
    now = datetime.now(UTC)
    booking = _book(db, member, desk, now=now)
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert booking.hold_expires_at == now + timedelta(minutes=15)
    order, payment, url = _checkout(db, member, booking)
    assert order.amount_cents == 1500 and order.currency == "EUR"
    assert order.vat_cents == 239  # 19 % contained in 15.00 EUR
    assert payment.status == PaymentStatus.PENDING
    assert url.startswith(stripe_emulator.url + "/checkout/cs_test_")
    session = stripe_emulator.request(
        "GET", f"/v1/checkout/sessions/{payment.stripe_checkout_session_id}"
    )
    assert session["amount_total"] == 1500 and session["currency"] == "eur"
    assert session["metadata"]["order_id"] == str(order.id)
    keys = stripe_emulator.request("GET", "/_test/idempotency_keys")
    assert any(k.endswith(f"-order-{order.id}-payment-{payment.id}") for k in keys)

    # Asking again (a reload, a double click) reuses the session.
    assert _checkout(db, member, booking)[2] == url

    # The browser's return alone confirms nothing.
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.PENDING_PAYMENT

    webhooks.deliver()
    _fresh(db)
    booking = db.get(Booking, booking.id)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.hold_expires_at is None
    payment = db.get(Payment, payment.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert db.get(Order, order.id).status == OrderStatus.PAID


def test_web_flow_books_then_sends_to_checkout(
    db, client, auth, desk, member, stripe_emulator
):
    auth.login(member.email)
    day = next_weekday(2, min_days=3)
    response = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    assert "/billing/orders/" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "15.00" in page and "Pay online now" in page
    response = client.post(response.location + "/pay", data={"csrf_token": auth.csrf()})
    assert response.status_code == 303
    assert response.location.startswith(stripe_emulator.url + "/checkout/")


def test_abandoned_checkout_releases_the_desk(
    db, client, auth, desk, member, create_user, stripe_emulator, webhooks
):
    booking = _book(db, member, desk)
    order, payment, _ = _checkout(db, member, booking)
    auth.login(member.email)
    response = client.get(f"/billing/orders/{order.id}/return?result=cancel")
    assert response.status_code == 303
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.EXPIRED
    assert db.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.scalar(select(func.count()).select_from(BookingSlot)) == 0
    session = stripe_emulator.request(
        "GET", f"/v1/checkout/sessions/{payment.stripe_checkout_session_id}"
    )
    assert session["status"] == "expired"
    webhooks.deliver()  # checkout.session.expired changes nothing more
    other = create_user()
    assert _book(db, other, desk, day=booking.booked_on).status == (
        BookingStatus.PENDING_PAYMENT
    )


def test_expired_holds_are_released_by_cron_and_idempotently(db, desk, member):
    now = datetime.now(UTC)
    booking = _book(db, member, desk, now=now)
    assert billing.expire_holds(db, now + timedelta(minutes=14)) == 0
    assert billing.expire_holds(db, now + timedelta(minutes=15)) == 1
    assert billing.expire_holds(db, now + timedelta(minutes=16)) == 0
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.EXPIRED
    assert db.scalar(select(func.count()).select_from(BookingSlot)) == 0


def test_an_expired_hold_is_released_when_someone_books_the_desk(
    db, desk, member, create_user
):
    now = datetime.now(UTC)
    first = _book(db, member, desk, now=now)
    other = create_user()
    with pytest.raises(BookingConflict):
        _book(db, other, desk, day=first.booked_on, now=now + timedelta(minutes=5))
    second = _book(
        db, other, desk, day=first.booked_on, now=now + timedelta(minutes=16)
    )
    assert second.status == BookingStatus.PENDING_PAYMENT
    _fresh(db)
    assert db.get(Booking, first.id).status == BookingStatus.EXPIRED
    # The same person may also book again once their own hold ran out.
    again = _book(
        db,
        member,
        desk,
        day=first.booked_on + timedelta(days=7),
        now=now + timedelta(minutes=16),
    )
    assert again.status == BookingStatus.PENDING_PAYMENT


def test_failed_payment_releases_the_desk(db, desk, member, stripe_emulator, webhooks):
    booking = _book(db, member, desk)
    order, payment, _ = _checkout(db, member, booking)
    result = stripe_emulator.pay(payment.stripe_checkout_session_id, DECLINED_CARD)
    assert result["payment_status"] == "unpaid"
    webhooks.deliver()
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.EXPIRED
    assert db.get(Payment, payment.id).status == PaymentStatus.FAILED
    assert db.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.scalar(select(func.count()).select_from(BookingSlot)) == 0


def test_a_redelivered_event_is_applied_once(
    db, desk, member, stripe_emulator, webhooks
):
    booking = _book(db, member, desk)
    _, payment, _ = _checkout(db, member, booking)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    completed = webhooks.pending("checkout.session.completed")
    assert len(completed) == 1
    assert webhooks.post(completed[0]).get_json()["result"] == "applied"
    second = webhooks.post(completed[0])
    assert second.status_code == 200 and second.get_json()["result"] == "duplicate"
    assert (
        db.scalar(
            select(func.count())
            .select_from(StripeEvent)
            .where(StripeEvent.id == completed[0]["id"])
        )
        == 1
    )


@pytest.mark.parametrize(
    "how",
    ["wrong_secret", "missing", "tampered_body", "future", "past", "garbage"],
)
def test_forged_or_stale_webhooks_get_400_and_change_nothing(
    db, app, desk, member, stripe_emulator, webhooks, how
):
    booking = _book(db, member, desk)
    _, payment, _ = _checkout(db, member, booking)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    event = webhooks.pending("checkout.session.completed")[0]
    payload = json.dumps(event).encode()
    headers = {"Stripe-Signature": sign(payload)}
    if how == "wrong_secret":
        headers = {"Stripe-Signature": sign(payload, secret="whsec_attacker")}
    elif how == "missing":
        headers = {}
    elif how == "tampered_body":
        payload = payload.replace(b'"paid"', b'"paid" ')
    elif how == "future":
        headers = {"Stripe-Signature": sign(payload, timestamp=time.time() + 600)}
    elif how == "past":
        headers = {"Stripe-Signature": sign(payload, timestamp=time.time() - 600)}
    elif how == "garbage":
        headers = {"Stripe-Signature": "t=abc,v1=zz"}
    response = app.test_client().post("/stripe/webhook", data=payload, headers=headers)
    assert response.status_code == 400
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.PENDING_PAYMENT
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0


def test_payment_events_in_any_order_end_confirmed(
    db, desk, member, stripe_emulator, webhooks
):
    booking = _book(db, member, desk)
    _, payment, _ = _checkout(db, member, booking)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    events = webhooks.pending()
    assert {"payment_intent.succeeded", "checkout.session.completed"} <= {
        e["type"] for e in events
    }
    for event in reversed(events):
        assert webhooks.post(event).status_code == 200
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.CONFIRMED
    assert db.get(Payment, payment.id).status == PaymentStatus.SUCCEEDED


def test_money_arriving_after_the_hold_ended_is_refunded(
    db, desk, member, stripe_emulator, webhooks
):
    now = datetime.now(UTC)
    booking = _book(db, member, desk, now=now)
    _, payment, _ = _checkout(db, member, booking)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    # The webhook is late: the hold ran out first.
    assert billing.expire_holds(db, now + timedelta(minutes=20)) == 1
    webhooks.deliver()
    _fresh(db)
    payment = db.get(Payment, payment.id)
    assert payment.status == PaymentStatus.REFUNDED
    refunds = stripe_emulator.request(
        "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    assert [r["amount"] for r in refunds["data"]] == [1500]
    assert db.get(Booking, booking.id).status == BookingStatus.EXPIRED


def test_cancelling_a_paid_booking_before_the_cutoff_refunds_it(
    db, desk, member, stripe_emulator, webhooks
):
    booking = _book(db, member, desk)
    order, payment, _ = _checkout(db, member, booking)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    webhooks.deliver()
    _fresh(db)
    cancel_booking(db, member, booking.id)
    _fresh(db)
    payment = db.get(Payment, payment.id)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_cents == 1500
    assert db.get(Order, order.id).status == OrderStatus.REFUNDED
    refunds = stripe_emulator.request(
        "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )
    assert len(refunds["data"]) == 1
    webhooks.deliver()  # charge/refund events keep it refunded


def test_reconcile_repairs_a_lost_webhook(db, desk, member, stripe_emulator, app):
    booking = _book(db, member, desk)
    _, payment, _ = _checkout(db, member, booking)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    result = app.test_cli_runner().invoke(args=["billing", "reconcile"])
    assert result.exit_code == 0, result.output
    assert "paid=1" in result.output
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.CONFIRMED
    again = app.test_cli_runner().invoke(args=["billing", "reconcile"])
    assert "paid=0" in again.output


def test_expire_holds_command(db, desk, member, app):
    booking = _book(db, member, desk, now=datetime.now(UTC) - timedelta(minutes=20))
    result = app.test_cli_runner().invoke(args=["expire-holds"])
    assert result.exit_code == 0 and "released=1" in result.output
    _fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.EXPIRED


class TestStripeUnreachable:
    @pytest.fixture
    def app_config(self, app_config):
        from tests.support.stripe_emulator import free_port

        return {**app_config, "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}"}

    def test_the_person_is_told_to_try_again_quickly_and_the_hold_stays(
        self, db, client, auth, desk, member
    ):
        booking = _book(db, member, desk)
        order = billing.order_for_booking(db, booking.id)
        auth.login(member.email)
        started = time.monotonic()
        response = client.post(
            f"/billing/orders/{order.id}/pay", data={"csrf_token": auth.csrf()}
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert elapsed < 5
        page = response.get_data(as_text=True)
        assert "try again" in page.lower() or "erneut" in page.lower()
        _fresh(db)
        assert db.get(Booking, booking.id).status == BookingStatus.PENDING_PAYMENT
        payment = db.get(Order, order.id).payments[-1]
        assert payment.status == PaymentStatus.PENDING
        assert payment.stripe_checkout_session_id is None
