"""Personal data held by door access, billing and passes: in the export, on
account deletion (invoices survive, the door log loses the person after the
retention period), and for operators only at their own locations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.access.models import AccessEvent
from booking.access.services import create_door
from booking.auth.models import User
from booking.billing import services as billing
from booking.billing.models import (
    BillingCustomer,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import BookingRequest, create_booking
from booking.passes import services as passes
from booking.passes.models import CompanyMember, Pass, PassStatus
from tests.conftest import next_weekday
from tests.support import stripe_fixtures
from tests.support.billing_helpers import buy_and_pay, fresh

# The Stripe emulator and its webhooks, for this module only.
app_config = stripe_fixtures.app_config
stripe_emulator = stripe_fixtures.stripe_emulator
webhooks = stripe_fixtures.webhooks

PASSWORD = {"password": "password123"}


@pytest.fixture
def two_spaces(db, create_location, create_resource):
    spaces = []
    for name in ("Alte Schule", "Bahnhof"):
        location = create_location(name=name, horizon_days=60)
        desk = create_resource(location, "desk", f"{name} 1")
        door, _ = create_door(
            db, location.operators[0], location.id, {"name": f"{name} door"}
        )
        spaces.append((location, desk, door))
    return spaces


@pytest.fixture
def member(create_user):
    return create_user("mia@example.org", name="Mia Member")


def _door_event(db, door, user, days_ago: float, **values) -> AccessEvent:
    event = AccessEvent.for_door(
        door,
        user_id=user.id if user else None,
        channel=values.pop("channel", "app"),
        result=values.pop("result", "opened"),
        occurred_at=datetime.now(UTC) - timedelta(days=days_ago),
        **values,
    )
    db.add(event)
    db.commit()
    return event


def _membership(db, location, price="49"):
    return passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "membership",
            "name": "Flex",
            "price": price,
            "days": "4",
            "location_id": location.id,
        },
    )


def test_export_holds_door_events_orders_invoices_and_passes(
    db, api, two_spaces, member, create_user, stripe_emulator, webhooks
):
    (a, desk_a, door_a), (b, _, door_b) = two_spaces
    _door_event(db, door_a, member, 2)
    _door_event(db, door_b, member, 1, channel="pin", result="pin_accepted")
    _door_event(db, door_a, create_user("other@example.org"), 1)
    pass_ = buy_and_pay(db, member, _membership(db, a).id, stripe_emulator, webhooks)
    desk_a.price_day_cents = 1500
    db.commit()
    booking = create_booking(db, member, BookingRequest(desk_a.id, on=next_weekday(1)))
    assert booking.settled_by == "credit"

    data = api(member).get("/api/v1/me/export").get_json()
    assert [(e["door"], e["channel"]) for e in data["door_events"]] == [
        ("Alte Schule door", "app"),
        ("Bahnhof door", "pin"),
    ]
    [order] = data["orders"]
    assert (order["kind"], order["status"], order["amount_cents"]) == (
        "membership",
        "paid",
        4900,
    )
    assert order["vat_cents"] == 782 and order["payments"][0]["status"] == "succeeded"
    [invoice] = data["invoices"]
    assert invoice["order_id"] == order["id"] and invoice["stripe_invoice_ids"]
    [exported_pass] = data["passes"]["passes"]
    assert (exported_pass["id"], exported_pass["status"]) == (pass_.id, "active")
    [entry] = data["passes"]["credit_entries"]
    assert (entry["delta"], entry["booking_id"]) == (-1, booking.id)
    assert "checkout_url" not in str(data) and "other@example.org" not in str(data)


def test_deletion_keeps_invoices_and_payments_but_not_the_person(
    db, api, two_spaces, member, stripe_emulator, webhooks
):
    (a, desk_a, _), _ = two_spaces
    pass_ = buy_and_pay(db, member, _membership(db, a).id, stripe_emulator, webhooks)
    paid_order = db.scalar(select(Order).where(Order.pass_id == pass_.id))
    [paid] = paid_order.payments
    invoice_id = paid.stripe_invoice_id
    assert invoice_id, "the subscription's first invoice is recorded"
    customer_id = db.scalar(
        select(BillingCustomer.stripe_customer_id).where(
            BillingCustomer.user_id == member.id
        )
    )
    # A day pass bought for a future day, and a pack never paid.
    desk_a.price_day_cents = 1500
    db.commit()
    pack = passes.create_plan(
        db,
        a.operators[0],
        {
            "kind": "pack",
            "name": "5 days",
            "price": "60",
            "days": "5",
            "valid_days": "90",
            "location_id": a.id,
        },
    )
    unpaid = billing.buy_plan(db, member, pack.id)
    client = api(member)

    # A membership that still renews would go on charging: deletion waits.
    refused = client.delete("/api/v1/me", json=PASSWORD)
    assert refused.status_code == 409
    assert "cancel it first" in refused.get_json()["message"]
    fresh(db)
    assert db.get(User, member.id).email == "mia@example.org"

    billing.cancel_at_period_end(db, member, pass_.id)
    assert client.delete("/api/v1/me", json=PASSWORD).status_code == 204
    fresh(db)
    user = db.get(User, member.id)
    assert (user.email, user.name) == (f"deleted-{member.id}@deleted.invalid", "")
    # The invoice and its payment survive, with amounts, VAT and Stripe ids.
    order = db.get(Order, paid_order.id)
    assert (order.status, order.amount_cents, order.vat_cents) == (
        OrderStatus.PAID,
        4900,
        782,
    )
    payment = db.get(Payment, paid.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.stripe_invoice_id == invoice_id and payment.checkout_url is None
    invoice = stripe_emulator.request("GET", f"/v1/invoices/{invoice_id}")
    assert invoice["amount_paid"] == 4900
    # What was never paid is closed; Stripe's customer loses name and e-mail.
    assert db.get(Order, unpaid.id).status == OrderStatus.CANCELLED
    assert db.get(Pass, unpaid.pass_id).status == PassStatus.EXPIRED
    customer = stripe_emulator.request("GET", f"/v1/customers/{customer_id}")
    assert not customer.get("email") and not customer.get("name")
    # Nothing on the rows names the person any more.
    rows = [order, payment]
    assert "mia" not in repr([vars(r) for r in rows]).lower()


def test_deletion_refunds_a_paid_future_day_and_returns_budget_days(
    db, api, two_spaces, member, create_user, stripe_emulator, webhooks, mailbox
):
    (a, desk_a, _), _ = two_spaces
    desk_a.price_day_cents = 1500
    db.commit()
    booking = create_booking(
        db, member, BookingRequest(desk_a.id, on=next_weekday(2, min_days=3))
    )
    order = billing.order_for_booking(db, booking.id)
    billing.start_checkout(
        db, member, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment = db.get(Payment, order.payments[-1].id)
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    webhooks.deliver()
    fresh(db)
    boss = create_user("boss@example.org")
    company = passes.create_company(
        db, a.operators[0], name="Muldental GmbH", admin=boss, location_id=a.id
    )
    db.add(CompanyMember(company_id=company.id, user_id=member.id))
    db.commit()
    waiting = create_user("wait@example.org")
    joined = api(waiting).post(
        f"/api/v1/locations/{a.id}/waitlist?date={booking.booked_on.isoformat()}"
    )
    assert joined.status_code == 201
    mailbox.clear()

    assert api(member).delete("/api/v1/me", json=PASSWORD).status_code == 204
    # The freed desk goes to the waitlist; the deleted account gets no mail.
    assert [m["To"] for m in mailbox.wait(1)] == ["wait@example.org"]
    fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.CANCELLED
    payment = db.get(Payment, payment.id)
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_cents == 1500
    assert db.get(Order, order.id).status == OrderStatus.REFUNDED
    membership = db.scalar(
        select(CompanyMember).where(CompanyMember.user_id == member.id)
    )
    assert membership.removed_at is not None


def test_door_log_keeps_facts_and_loses_the_person_after_retention(
    app, db, api, two_spaces, member, create_user
):
    (a, desk_a, door_a), _ = two_spaces
    app.config["DOOR_LOG_RETENTION_DAYS"] = 30
    booking = create_booking(db, member, BookingRequest(desk_a.id, on=next_weekday(1)))
    old = _door_event(
        db,
        door_a,
        member,
        40,
        channel="pin",
        result="pin_accepted",
        booking_id=booking.id,
        reason="window 1700000000-1700086400",
    )
    recent = _door_event(db, door_a, member, 3, booking_id=booking.id)
    someone = create_user("still@example.org")
    others_old = _door_event(db, door_a, someone, 45, reason="no_booking")

    assert api(member).delete("/api/v1/me", json=PASSWORD).status_code == 204
    fresh(db)
    old, recent = db.get(AccessEvent, old.id), db.get(AccessEvent, recent.id)
    # Past the retention period: the fact stays, the person is gone.
    assert (old.user_id, old.booking_id, old.reason) == (None, None, None)
    assert (old.door_id, old.channel, old.result) == (
        door_a.id,
        "pin",
        "pin_accepted",
    )
    # Within it the entry still says which (now anonymous) account came in.
    assert recent.user_id == member.id and recent.booking_id == booking.id
    # Deleting one account does not touch anyone else's entries.
    assert db.get(AccessEvent, others_old.id).user_id == someone.id

    # The daily command strips everyone's entries past the retention period.
    app.config["DOOR_LOG_RETENTION_DAYS"] = 2
    result = app.test_cli_runner().invoke(args=["anonymise-door-log"])
    assert result.exit_code == 0, result.output
    assert "Anonymised 2 door-log entries." in result.output
    fresh(db)
    recent, others_old = (
        db.get(AccessEvent, recent.id),
        db.get(AccessEvent, others_old.id),
    )
    assert (recent.user_id, recent.booking_id, recent.result) == (None, None, "opened")
    assert (others_old.user_id, others_old.reason) == (None, "no_booking")
    again = app.test_cli_runner().invoke(args=["anonymise-door-log"])
    assert "Anonymised 0 door-log entries." in again.output


def test_operators_see_door_events_and_orders_only_for_their_locations(
    db, api, two_spaces, member, stripe_emulator, webhooks
):
    (a, desk_a, door_a), (b, desk_b, door_b) = two_spaces
    _door_event(db, door_a, member, 1)
    _door_event(db, door_b, member, 1)
    buy_and_pay(db, member, _membership(db, a).id, stripe_emulator, webhooks)
    buy_and_pay(
        db, member, _membership(db, b, price="39").id, stripe_emulator, webhooks
    )
    op_a, op_b = api(a.operators[0]), api(b.operators[0])

    seen = op_a.get(f"/api/v1/locations/{a.id}/members?email=mia@example.org")
    assert seen.status_code == 200
    body = seen.get_json()
    assert [e["door"] for e in body["door_events"]] == ["Alte Schule door"]
    assert [o["amount_cents"] for o in body["orders"]] == [4900]
    seen_b = op_b.get(f"/api/v1/locations/{b.id}/members?email=mia@example.org")
    body_b = seen_b.get_json()
    assert [e["door"] for e in body_b["door_events"]] == ["Bahnhof door"]
    assert [o["amount_cents"] for o in body_b["orders"]] == [3900]
    # Another operator's location: refused, whatever the member did there.
    assert (
        op_a.get(f"/api/v1/locations/{b.id}/members?email=mia@example.org").status_code
        == 403
    )
    assert (
        api(member)
        .get(f"/api/v1/locations/{a.id}/members?email=mia@example.org")
        .status_code
        == 403
    )
