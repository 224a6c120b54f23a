"""Booking for a guest without an account (issue 17 point 4)."""

from __future__ import annotations

import pytest

from booking.bookings.models import Booking
from tests.conftest import next_weekday


@pytest.fixture
def operator(create_user):
    return create_user("op@example.org", role="operator")


@pytest.fixture
def space(create_location, create_resource, operator):
    location = create_location(operator, horizon_days=60)
    first = create_resource(location, "desk", "Fensterplatz")
    second = create_resource(location, "desk", "Ecke")
    return location, first, second


GUEST = {"name": "Gisela Gast", "email": "Gisela@Example.org"}


def test_a_member_books_a_guest_who_is_not_their_second_seat(
    api, db, space, create_user
):
    location, first, second = space
    member = create_user("m@example.org", name="Mia")
    client = api(member)
    day = next_weekday(1).isoformat()
    mine = client.post("/api/v1/bookings", json={"resource_id": first.id, "date": day})
    assert mine.status_code == 201 and mine.get_json()["guest"] is None
    answer = client.post(
        "/api/v1/bookings",
        json={"resource_id": second.id, "date": day, "guest": GUEST},
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["guest"] == {"name": "Gisela Gast", "email": "gisela@example.org"}
    # The member holds and pays for it; the seat is the guest's.
    assert body["user_id"] == member.id and body["status"] == "confirmed"
    booking = db.get(Booking, body["id"])
    assert booking.guest_email == "gisela@example.org"
    assert client.get(f"/api/v1/bookings/{body['id']}").get_json()["guest"] == {
        "name": "Gisela Gast",
        "email": "gisela@example.org",
    }
    # One person, one workplace: the guest cannot get a second desk that day,
    # whoever books it, and the member still cannot hold two desks.
    again = api(create_user()).post(
        "/api/v1/bookings",
        json={"resource_id": first.id, "date": day, "guest": GUEST},
    )
    assert again.status_code == 409
    third = api(create_user()).post(
        "/api/v1/bookings",
        json={
            "resource_id": second.id,
            "date": next_weekday(2).isoformat(),
            "guest": GUEST,
        },
    )
    assert third.status_code == 201
    # The operator's day list names the guest.
    listed = api(space[0].operators[0]).get(
        f"/api/v1/locations/{location.id}/bookings?date={day}"
    )
    guests = [b["guest"] for b in listed.get_json()]
    assert {"name": "Gisela Gast", "email": "gisela@example.org"} in guests


def test_an_operator_books_a_guest(api, space, operator):
    _, first, _ = space
    answer = api(operator).post(
        "/api/v1/bookings",
        json={
            "resource_id": first.id,
            "date": next_weekday(3).isoformat(),
            "guest": GUEST,
        },
    )
    assert answer.status_code == 201
    assert answer.get_json()["guest"]["name"] == "Gisela Gast"


@pytest.mark.parametrize(
    "guest",
    [
        {"name": "", "email": "g@example.org"},
        {"name": "Gisela", "email": "not-an-address"},
        {"name": "Gisela"},
        {"name": "Gisela", "email": "g@example.org", "phone": "123"},
    ],
)
def test_a_guest_needs_a_name_and_an_address(api, space, create_user, guest):
    _, first, _ = space
    answer = api(create_user()).post(
        "/api/v1/bookings",
        json={
            "resource_id": first.id,
            "date": next_weekday(1).isoformat(),
            "guest": guest,
        },
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_input"


def test_a_guest_on_a_priced_desk_is_paid_by_the_member(api, db, space, create_user):
    _, first, _ = space
    first.price_day_cents = 1500
    db.commit()
    member = create_user()
    answer = api(member).post(
        "/api/v1/bookings",
        json={
            "resource_id": first.id,
            "date": next_weekday(1).isoformat(),
            "guest": GUEST,
        },
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["status"] == "pending_payment" and body["user_id"] == member.id
    assert body["payment"]["amount_cents"] == 1500
    # The order's description is written as people write dates (issue 17.9)
    # and names the guest it was for.
    from booking.billing.services import order_for_booking

    day = next_weekday(1)
    assert order_for_booking(db, body["id"]).description == (
        f"Fensterplatz {day:%d.%m.%Y} · {GUEST['name']}"
    )
