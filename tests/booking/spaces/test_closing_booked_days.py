"""Closing a day that members booked cancels their bookings through the one
cancel path: credits come back, payments are refunded, members get a mail."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from booking.billing import services as billing
from booking.billing.models import Payment, PaymentStatus
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import BookingRequest, create_booking
from booking.passes import services as passes
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh


@pytest.fixture
def operator(create_user):
    return create_user("op@example.org", role="operator")


@pytest.fixture
def location(create_location, operator):
    return create_location(operator, horizon_days=60)


@pytest.fixture
def desks(location, create_resource, db):
    paid = create_resource(location, "desk", "Fenster")
    paid.price_day_cents = 1500
    free = create_resource(location, "desk", "Tür")
    other = create_resource(location, "desk", "Ecke")
    db.commit()
    return paid, free, other


def _pack(db, location):
    return passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "pack",
            "name": "10er-Karte",
            "price": "120,00",
            "days": "10",
            "valid_days": "90",
            "location_id": location.id,
        },
    )


def test_closing_cancels_refunds_returns_credits_and_mails(
    db, api, create_user, operator, location, desks, mailbox, stripe_emulator, webhooks
):
    paid_desk, free_desk, other_desk = desks
    day = next_weekday(2, min_days=3)
    anna = create_user("anna@example.org", locale="de")
    ben = create_user("ben@example.org", locale="de")
    carla = create_user("carla@example.org", locale="de")
    # Anna pays for her day by card.
    paid = create_booking(db, anna, BookingRequest(paid_desk.id, on=day))
    order = billing.order_for_booking(db, paid.id)
    billing.start_checkout(
        db, anna, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment_id = db.get(type(order), order.id).payments[-1].id
    stripe_emulator.pay(db.get(Payment, payment_id).stripe_checkout_session_id)
    webhooks.deliver()
    fresh(db)
    # Ben books from his pack of ten.
    pack = buy_and_pay(db, ben, _pack(db, location).id, stripe_emulator, webhooks)
    thursday, friday = day + timedelta(days=1), day + timedelta(days=2)
    from_pack = create_booking(db, ben, BookingRequest(paid_desk.id, on=thursday))
    carlas = create_booking(db, carla, BookingRequest(free_desk.id, on=day))
    elsewhere = create_booking(db, carla, BookingRequest(other_desk.id, on=friday))
    fresh(db)
    assert passes.remaining(db, pack, from_pack.booked_on) == 9
    mailbox.clear()

    answer = api(operator).post(
        f"/api/v1/locations/{location.id}/closures",
        json={
            "starts_on": day.isoformat(),
            "ends_on": from_pack.booked_on.isoformat(),
            "reason": "Wasserschaden",
        },
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert sorted(body["cancelled_bookings"]) == sorted(
        [paid.id, from_pack.id, carlas.id]
    )
    fresh(db)
    for booking_id in body["cancelled_bookings"]:
        assert db.get(Booking, booking_id).status == BookingStatus.CANCELLED
        on = db.get(Booking, booking_id).booked_on.isoformat()
        listed = api(operator).get(
            f"/api/v1/locations/{location.id}/bookings?date={on}"
        )
        statuses = {b["id"]: b["status"] for b in listed.get_json()}
        assert statuses[booking_id] == "cancelled"
    assert db.get(Booking, elsewhere.id).status == BookingStatus.CONFIRMED
    # The card payment is refunded, the pack's day comes back.
    assert db.get(Payment, payment_id).status == PaymentStatus.REFUNDED
    assert passes.remaining(db, pack, from_pack.booked_on) == 10
    # Each member is told.
    mailbox.wait(3)
    for address in ("anna@example.org", "ben@example.org", "carla@example.org"):
        # Exactly one: the delivery's claims commit even when it runs inline,
        # inside the request that cancelled (it once sent each mail 3 times).
        assert len(mailbox.to(address)) == 1, address
    assert not [m for m in mailbox.to("carla@example.org") if "Ecke" in m["Subject"]]
    # ... that the day is closed, and why (the closure's reason).
    for address in ("carla@example.org", "anna@example.org"):
        mails = [
            m
            for m in mailbox.to(address)
            if "diese Buchung ist storniert" in m.get_body(("plain",)).get_content()
        ]
        assert mails, address
        closed = f"{location.name} ist an diesem Tag geschlossen. Grund: Wasserschaden"
        for mail in mails:
            # A paragraph of its own, between the booking and the calendar note.
            text = mail.get_body(("plain",)).get_content()
            assert f"\n\n{closed}\n\n" in text, text
            assert "Grund: Wasserschaden" in mail.get_body(("html",)).get_content()


def test_a_closure_of_one_desk_cancels_only_its_bookings(
    db, api, create_user, operator, location, desks, mailbox
):
    paid_desk, free_desk, other_desk = desks
    day = next_weekday(1, min_days=3)
    member = create_user(locale="de")
    kept = create_booking(db, create_user(), BookingRequest(paid_desk.id, on=day))
    gone = create_booking(db, member, BookingRequest(free_desk.id, on=day))
    mailbox.wait(1)  # the confirmation of the free desk
    mailbox.clear()
    body = (
        api(operator)
        .post(
            f"/api/v1/locations/{location.id}/closures",
            json={"starts_on": day.isoformat(), "resource_id": free_desk.id},
        )
        .get_json()
    )
    assert body["cancelled_bookings"] == [gone.id]
    fresh(db)
    assert db.get(Booking, kept.id).status == BookingStatus.PENDING_PAYMENT
    assert db.get(Booking, gone.id).status == BookingStatus.CANCELLED
    texts = _cancellations(mailbox, 1)
    assert texts
    for text in texts:
        assert "Tür ist an diesem Tag geschlossen." in text, text
        assert "Grund" not in text  # no reason given
    # A booking its holder cancels the next day says nothing of closures.
    mailbox.clear()
    own = create_booking(
        db, member, BookingRequest(other_desk.id, on=day + timedelta(days=1))
    )
    cancelled = api(member).delete(f"/api/v1/bookings/{own.id}")
    assert cancelled.status_code in (200, 204), cancelled.get_json()
    deadline = time.monotonic() + 5
    while not (own_texts := [t for t in _cancellations(mailbox, 1) if "Ecke" in t]):
        assert time.monotonic() < deadline, "no cancellation mail"
        time.sleep(0.05)
    assert not [t for t in own_texts if "geschlossen" in t], own_texts


def _cancellations(mailbox, count: int) -> list[str]:
    """The plain texts of the cancellation mails among ``count`` mails."""
    texts = [m.get_body(("plain",)).get_content() for m in mailbox.wait(count)]
    return [t for t in texts if "diese Buchung ist storniert" in t]


def test_nothing_booked_nothing_cancelled_and_others_may_not_close(
    api, create_user, location, desks
):
    day = next_weekday(1, min_days=3)
    stranger = create_user(role="operator")
    refused = api(stranger).post(
        f"/api/v1/locations/{location.id}/closures",
        json={"starts_on": day.isoformat()},
    )
    assert refused.status_code == 403
    answer = api(location.operators[0]).post(
        f"/api/v1/locations/{location.id}/closures",
        json={"starts_on": day.isoformat()},
    )
    assert answer.status_code == 201
    assert answer.get_json()["cancelled_bookings"] == []


def test_my_bookings_says_which_day_was_closed_and_why(
    db, api, client, auth, create_user, operator, location, desks
):
    _paid, free_desk, other_desk = desks
    day = next_weekday(2, min_days=3)
    carla = create_user("carla@example.org", password="password123", locale="de")
    closed = create_booking(db, carla, BookingRequest(free_desk.id, on=day))
    mine = create_booking(
        db, carla, BookingRequest(other_desk.id, on=day + timedelta(days=1))
    )
    assert api(carla).delete(f"/api/v1/bookings/{mine.id}").status_code == 200
    answer = api(operator).post(
        f"/api/v1/locations/{location.id}/closures",
        json={
            "starts_on": day.isoformat(),
            "ends_on": day.isoformat(),
            "resource_id": free_desk.id,
            "reason": "Neuer Teppich",
        },
    )
    assert answer.get_json()["cancelled_bookings"] == [closed.id]

    auth.login("carla@example.org")
    client.set_cookie("lang", "de")
    page = client.get("/bookings").get_data(as_text=True)
    cancelled = page.split('<ul class="bookings cancelled">')[1]
    rows = cancelled.split("</li>")
    closed_row = next(r for r in rows if f'id="b{closed.id}"' in r)
    own_row = next(r for r in rows if f'id="b{mine.id}"' in r)
    assert "Tür ist an diesem Tag geschlossen. Grund: Neuer Teppich" in closed_row
    assert "geschlossen" not in own_row


def test_past_days_and_days_closed_already_are_refused(
    db, api, operator, location, desks
):
    from datetime import date

    from booking.spaces.models import Closure

    _paid, free_desk, _other = desks
    client = api(operator)
    url = f"/api/v1/locations/{location.id}/closures"
    yesterday = date.today() - timedelta(days=2)
    answer = client.post(
        url,
        json={
            "starts_on": yesterday.isoformat(),
            "ends_on": (yesterday + timedelta(days=5)).isoformat(),
        },
    )
    assert answer.status_code == 400 and answer.get_json()["field"] == "starts_on"
    day = next_weekday(2, min_days=3)
    week = {
        "starts_on": day.isoformat(),
        "ends_on": (day + timedelta(days=4)).isoformat(),
    }
    assert client.post(url, json=week).status_code == 201
    # The same days again, or a desk on one of them: nothing would change.
    again = client.post(url, json=week)
    assert again.status_code == 400
    assert again.get_json()["message"] == "These days are closed already."
    one_desk = {
        "starts_on": day.isoformat(),
        "ends_on": day.isoformat(),
        "resource_id": free_desk.id,
    }
    assert client.post(url, json=one_desk).status_code == 400
    # A longer stretch still adds what the first did not cover.
    longer = {**week, "ends_on": (day + timedelta(days=6)).isoformat()}
    assert client.post(url, json=longer).status_code == 201
    assert db.query(Closure).count() == 2
