"""Memberships as Stripe subscriptions: credits, grace, suspension, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from booking.billing import services as billing
from booking.billing.models import Payment
from booking.bookings.models import BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.passes import services as passes
from booking.passes.models import Pass, PassStatus, Standing
from tests.conftest import next_weekday

DECLINED_CARD = "4000000000000341"


def _fresh(db):
    db.rollback()
    db.expire_all()


@pytest.fixture
def desk(create_location, create_resource, db):
    resource = create_resource(create_location(), "desk")
    resource.price_day_cents = 1500
    db.commit()
    return resource


@pytest.fixture
def member(create_user):
    return create_user("mia@example.org")


def _subscribe(db, member, stripe_emulator, webhooks, create_user, *, days=2):
    admin = member
    operator = create_user("admin@example.org", role="admin")
    plan = passes.create_plan(
        db,
        operator,
        {
            "kind": "membership",
            "name": "Flex 2",
            "price": "49",
            "days": str(days),
            "access_24_7": "1",
        },
    )
    order = billing.buy_plan(db, admin, plan.id)
    billing.start_checkout(
        db, admin, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment = db.get(Payment, order.payments[-1].id)
    assert stripe_emulator.pay(payment.stripe_checkout_session_id)["status"] == (
        "complete"
    )
    webhooks.deliver()
    _fresh(db)
    return db.get(Pass, order.pass_id)


def test_membership_credits_are_consumed_and_returned(
    db, desk, member, stripe_emulator, webhooks, create_user
):
    pass_ = _subscribe(db, member, stripe_emulator, webhooks, create_user, days=2)
    assert pass_.status == PassStatus.ACTIVE
    assert pass_.stripe_subscription_id.startswith("sub_")
    assert passes.member_standing(db, member) == Standing.ACTIVE
    assert passes.has_24_7_access(db, member, desk.location_id)
    monday = next_weekday(0, min_days=3)
    days = [monday, monday + timedelta(days=1), monday + timedelta(days=2)]
    if days[2].month != monday.month:
        monday += timedelta(days=7)
        days = [monday + timedelta(days=i) for i in range(3)]
    first = create_booking(db, member, BookingRequest(desk.id, on=days[0]))
    second = create_booking(db, member, BookingRequest(desk.id, on=days[1]))
    assert first.status == second.status == BookingStatus.CONFIRMED
    assert passes.remaining(db, pass_, days[0]) == 0
    third = create_booking(db, member, BookingRequest(desk.id, on=days[2]))
    assert third.status == BookingStatus.PENDING_PAYMENT  # out of days: pay
    cancel_booking(db, member, first.id)
    assert passes.remaining(db, pass_, days[0]) == 1
    summary = passes.credit_summary(
        db, member, desk.location_id, days[0], datetime.now(UTC)
    )
    assert [s.remaining for s in summary] == [1]


def test_renewal_failure_grace_suspension_recovery(
    db, app, desk, member, stripe_emulator, webhooks, create_user
):
    pass_ = _subscribe(db, member, stripe_emulator, webhooks, create_user)
    customer = stripe_emulator.request(
        "GET", f"/v1/subscriptions/{pass_.stripe_subscription_id}"
    )["customer"]
    bad = stripe_emulator.request(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card": {
                "number": DECLINED_CARD,
                "exp_month": 12,
                "exp_year": 2040,
                "cvc": "123",
            },
        },
    )
    stripe_emulator.request(
        "POST", f"/v1/payment_methods/{bad['id']}/attach", {"customer": customer}
    )
    stripe_emulator.request(
        "POST",
        f"/v1/customers/{customer}",
        {"invoice_settings": {"default_payment_method": bad["id"]}},
    )
    invoice = stripe_emulator.request(
        "POST", f"/_test/subscriptions/{pass_.stripe_subscription_id}/renew"
    )
    assert invoice["status"] == "open"
    started = datetime.now(UTC)
    webhooks.deliver()
    _fresh(db)
    pass_ = db.get(Pass, pass_.id)
    assert pass_.status == PassStatus.PAST_DUE
    assert pass_.grace_until - started < timedelta(days=7, minutes=1)
    assert passes.member_standing(db, member) == Standing.PAST_DUE_IN_GRACE
    # In grace the member still books with credits and the door still opens.
    day = next_weekday(3, min_days=3)
    assert create_booking(db, member, BookingRequest(desk.id, on=day)).status == (
        BookingStatus.CONFIRMED
    )
    later = started + timedelta(days=8)
    assert passes.member_standing(db, member, later) == Standing.SUSPENDED
    assert not passes.has_24_7_access(db, member, desk.location_id, later)
    with pytest.raises(passes.MembershipSuspended):
        create_booking(
            db, member, BookingRequest(desk.id, on=day + timedelta(days=7)), now=later
        )
    # Recovery: a working card, the open invoice is paid.
    good = stripe_emulator.request(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card": {
                "number": "4242424242424242",
                "exp_month": 12,
                "exp_year": 2040,
                "cvc": "123",
            },
        },
    )
    stripe_emulator.request(
        "POST", f"/v1/payment_methods/{good['id']}/attach", {"customer": customer}
    )
    stripe_emulator.request(
        "POST",
        f"/v1/customers/{customer}",
        {"invoice_settings": {"default_payment_method": good["id"]}},
    )
    paid = stripe_emulator.request("POST", f"/v1/invoices/{invoice['id']}/pay")
    assert paid["status"] == "paid"
    webhooks.deliver()
    _fresh(db)
    assert db.get(Pass, pass_.id).status == PassStatus.ACTIVE
    assert passes.member_standing(db, member, later) == Standing.ACTIVE


def test_subscription_events_out_of_order_follow_the_current_object(
    db, desk, member, stripe_emulator, webhooks, create_user
):
    pass_ = _subscribe(db, member, stripe_emulator, webhooks, create_user)
    created = [
        e
        for e in stripe_emulator.events()
        if e["type"] == "customer.subscription.created"
        and e["data"]["object"]["id"] == pass_.stripe_subscription_id
    ][0]
    stripe_emulator.request(
        "DELETE", f"/v1/subscriptions/{pass_.stripe_subscription_id}"
    )
    deleted = webhooks.pending("customer.subscription.deleted")
    assert len(deleted) == 1
    webhooks.post(deleted[0])
    # A stale "created" (status incomplete/active) redelivered late under a new
    # id must not revive the cancelled membership.
    stale = {**created, "id": created["id"] + "_late"}
    assert webhooks.post(stale).status_code == 200
    _fresh(db)
    assert db.get(Pass, pass_.id).status == PassStatus.CANCELLED
    assert passes.member_standing(db, member) == Standing.NONE
