"""What a member does themselves: mails at the right moment, the customer
portal, cancelling at period end, changing plan, seeing a suspension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.billing import services as billing
from booking.billing.models import Order, OrderStatus, Payment, PaymentStatus
from booking.bookings.models import BookingStatus
from booking.bookings.services import BookingRequest, create_booking
from booking.passes import services as passes
from booking.passes.models import Pass, PassStatus
from tests.conftest import next_weekday
from tests.support.billing_helpers import (
    DECLINED_CARD,
    GOOD_CARD,
    buy_and_pay,
    fresh,
    set_card,
    weekdays,
)


@pytest.fixture
def location(create_location):
    return create_location(name="Muldenland", slug="muldenland")


@pytest.fixture
def desk(location, create_resource, db):
    resource = create_resource(location, "desk", name="Fensterplatz")
    resource.price_day_cents = 1500
    db.commit()
    return resource


@pytest.fixture
def member(create_user):
    return create_user("lena@example.org", name="Lena")


def _plan(db, location, name="Flex 2", price="49", days=2):
    return passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "membership",
            "name": name,
            "price": price,
            "days": str(days),
            "location_id": location.id,
        },
    )


def _subjects(smtp, to: str) -> list[str]:
    return [m["Subject"] for m in smtp.messages if m["To"] == to]


def test_the_confirmation_mail_waits_for_the_payment(
    db, desk, member, smtp, stripe_emulator, webhooks
):
    booking = create_booking(
        db, member, BookingRequest(desk.id, on=next_weekday(1, min_days=3))
    )
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert smtp.messages == []  # only held: no "Booked" mail yet
    order = billing.order_for_booking(db, booking.id)
    billing.start_checkout(
        db, member, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    session_id = db.get(Payment, order.payments[-1].id).stripe_checkout_session_id
    stripe_emulator.pay(session_id)
    events = webhooks.pending()
    for event in events:
        webhooks.post(event)
    for event in events:  # redelivered: still one mail
        webhooks.post(event)
    smtp.wait_for_message(1)
    subjects = _subjects(smtp, member.email)
    assert len(subjects) == 1 and subjects[0].startswith("Booked: Fensterplatz")
    ics = [
        part
        for part in smtp.messages[0].walk()
        if part.get_content_type() == "text/calendar"
    ]
    assert ics and "METHOD:REQUEST" in ics[0].get_content()


def test_an_abandoned_hold_sends_no_confirmation(db, desk, member, smtp):
    now = datetime.now(UTC)
    create_booking(
        db, member, BookingRequest(desk.id, on=next_weekday(2, min_days=3)), now=now
    )
    assert billing.expire_holds(db, now + timedelta(minutes=16)) == 1
    assert _subjects(smtp, member.email) == []


def test_a_failed_renewal_tells_the_member_and_pauses_booking(
    db, client, auth, location, desk, member, smtp, stripe_emulator, webhooks
):
    pass_ = buy_and_pay(db, member, _plan(db, location).id, stripe_emulator, webhooks)
    subscription = pass_.stripe_subscription_id
    customer = stripe_emulator.request("GET", f"/v1/subscriptions/{subscription}")[
        "customer"
    ]
    set_card(stripe_emulator, customer, DECLINED_CARD)
    stripe_emulator.request("POST", f"/_test/subscriptions/{subscription}/renew")
    events = webhooks.pending()
    for event in events + events:
        assert webhooks.post(event).status_code == 200
    smtp.wait_for_message(1)
    assert _subjects(smtp, member.email) == ["Your payment did not go through"]
    assert "49.00" in smtp.messages[0].get_body(("plain",)).get_content()
    fresh(db)
    pass_ = db.get(Pass, pass_.id)
    assert pass_.status == PassStatus.PAST_DUE
    # The failed renewal is listed with the payments.
    renewal = db.scalar(select(Payment).where(Payment.status == PaymentStatus.FAILED))
    assert renewal.order.pass_id == pass_.id and renewal.amount_cents == 4900

    auth.login(member.email)
    page = client.get("/l/muldenland").get_data(as_text=True)
    assert "payment overdue: please update your payment method before" in page
    # The grace period runs out.
    fresh(db)
    db.get(Pass, pass_.id).grace_until = datetime.now(UTC) - timedelta(minutes=1)
    db.commit()
    page = client.get("/bookings").get_data(as_text=True)
    assert "suspended: the last payment failed" in page
    day = next_weekday(3, min_days=3)
    response = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "csrf_token": auth.csrf(),
        },
    )
    page = client.get(response.location).get_data(as_text=True)
    assert "Your membership payment is overdue" in page
    fresh(db)

    # Paid with a working card: active again, the renewal row is paid.
    set_card(stripe_emulator, customer, GOOD_CARD)
    invoice = stripe_emulator.request("GET", f"/v1/subscriptions/{subscription}")[
        "latest_invoice"
    ]
    assert stripe_emulator.request("POST", f"/v1/invoices/{invoice}/pay")["status"] == (
        "paid"
    )
    webhooks.deliver()
    fresh(db)
    assert db.get(Pass, pass_.id).status == PassStatus.ACTIVE
    renewal = db.get(Payment, renewal.id)
    assert renewal.status == PaymentStatus.SUCCEEDED
    assert renewal.order.status == OrderStatus.PAID
    assert len(_subjects(smtp, member.email)) == 1


def test_the_customer_portal_opens_for_the_members_own_customer(
    db, client, auth, location, member, create_user, stripe_emulator, webhooks
):
    auth.login(member.email)
    response = client.post(
        "/billing/portal", data={"back": "/plans", "csrf_token": auth.csrf()}
    )
    assert "There are no payments to manage yet." in client.get(
        response.location
    ).get_data(as_text=True)
    buy_and_pay(db, member, _plan(db, location).id, stripe_emulator, webhooks)
    page = client.get("/plans").get_data(as_text=True)
    assert "Payment method and invoices" in page
    response = client.post(
        "/billing/portal", data={"back": "/plans", "csrf_token": auth.csrf()}
    )
    assert response.status_code == 303
    assert response.location.startswith(stripe_emulator.url + "/portal/bps_")
    (session,) = stripe_emulator.request("GET", "/_test/portal_sessions")[-1:]
    customer = (
        db.scalar(select(Order).where(Order.user_id == member.id))
        .payments[-1]
        .stripe_checkout_session_id
    )
    checkout = stripe_emulator.request("GET", f"/v1/checkout/sessions/{customer}")
    assert session["customer"] == checkout["customer"]
    assert session["return_url"] == "http://localhost/plans"
    # Someone else's company: not found.
    response = client.post(
        "/billing/portal", data={"company_id": 999, "csrf_token": auth.csrf()}
    )
    assert response.status_code == 404


def test_cancel_at_period_end(
    db, client, auth, location, desk, member, create_user, stripe_emulator, webhooks
):
    pass_ = buy_and_pay(db, member, _plan(db, location).id, stripe_emulator, webhooks)
    stranger = create_user("fremd@example.org")
    auth.login(stranger.email)
    assert (
        client.post(
            f"/passes/{pass_.id}/cancel", data={"csrf_token": auth.csrf()}
        ).status_code
        == 404
    )
    auth.logout()
    auth.login(member.email)
    response = client.post(
        f"/passes/{pass_.id}/cancel", data={"csrf_token": auth.csrf()}
    )
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Your membership ends when the current month is over." in page
    assert "ends with the current month" in page
    fresh(db)
    pass_ = db.get(Pass, pass_.id)
    assert pass_.cancel_at_period_end and pass_.status == PassStatus.ACTIVE
    subscription = stripe_emulator.request(
        "GET", f"/v1/subscriptions/{pass_.stripe_subscription_id}"
    )
    assert subscription["cancel_at_period_end"] is True
    # Until then the days are there.
    booking = create_booking(
        db, member, BookingRequest(desk.id, on=next_weekday(1, min_days=3))
    )
    assert booking.status == BookingStatus.CONFIRMED
    # The month ends: Stripe deletes the subscription.
    stripe_emulator.request("DELETE", f"/v1/subscriptions/{subscription['id']}")
    webhooks.deliver()
    fresh(db)
    assert db.get(Pass, pass_.id).status == PassStatus.CANCELLED


def test_change_plan_with_proration(
    db, client, auth, location, desk, member, stripe_emulator, webhooks
):
    small = _plan(db, location)
    big = _plan(db, location, name="Flex 8", price="99", days=8)
    pack = passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "pack",
            "name": "5er",
            "price": "60",
            "days": "5",
            "valid_days": "30",
            "location_id": location.id,
        },
    )
    pass_ = buy_and_pay(db, member, small.id, stripe_emulator, webhooks)
    auth.login(member.email)
    page = client.get("/plans").get_data(as_text=True)
    assert "Change “Flex 2” to" in page and "Flex 8 (€99.00 / month)" in page
    # Only to another membership.
    response = client.post(
        f"/passes/{pass_.id}/change",
        data={"plan_id": pack.id, "csrf_token": auth.csrf()},
    )
    assert "Choose another plan of the same kind." in client.get(
        response.location
    ).get_data(as_text=True)
    response = client.post(
        f"/passes/{pass_.id}/change",
        data={"plan_id": big.id, "csrf_token": auth.csrf()},
    )
    assert response.status_code == 303
    assert "Plan changed." in client.get(response.location).get_data(as_text=True)
    fresh(db)
    pass_ = db.get(Pass, pass_.id)
    assert (pass_.plan_id, pass_.credits) == (big.id, 8)
    subscription = stripe_emulator.request(
        "GET", f"/v1/subscriptions/{pass_.stripe_subscription_id}"
    )
    item = subscription["items"]["data"][0]
    assert item["plan"]["amount"] == 9900
    assert item["plan"]["id"] == db.get(type(big), big.id).stripe_price_id
    assert subscription["metadata"]["plan_id"] == str(big.id)
    # Stripe credits the unused part of the old plan on the next invoice.
    items = stripe_emulator.request(
        "GET", f"/v1/invoiceitems?customer={subscription['customer']}"
    )["data"]
    assert any(i["proration"] and i["amount"] < 0 for i in items)
    # The update event, delivered (even twice), keeps the new plan.
    updates = webhooks.pending("customer.subscription.updated")
    assert updates
    for event in updates + updates:
        assert webhooks.post(event).status_code == 200
    fresh(db)
    assert db.get(Pass, pass_.id).plan_id == big.id
    days = weekdays(next_weekday(0, min_days=3), 3)
    statuses = [
        create_booking(db, member, BookingRequest(desk.id, on=d)).status for d in days
    ]
    assert statuses == [BookingStatus.CONFIRMED] * 3  # 8 days now, not 2
