"""Prices on resources and resources by count in /api/v1."""

from __future__ import annotations

import pytest

from booking.bookings.services import BookingRequest, create_booking
from tests.conftest import next_weekday


@pytest.fixture
def operator(create_user):
    return create_user("op@example.org", role="operator")


@pytest.fixture
def space(create_location, create_resource, operator):
    location = create_location(operator, horizon_days=60)
    desk = create_resource(location, "desk", "Fenster")
    room = create_resource(location, "room", "Saal", capacity=8)
    return location, desk, room


def _by_id(items):
    return {item["id"]: item for item in items}


def test_prices_are_listed_and_changed_by_the_operator(api, space, operator, db):
    location, desk, room = space
    listed = _by_id(api().get(f"/api/v1/locations/{location.id}/resources").get_json())
    assert listed[desk.id]["prices"] == {"day": 0, "half_day": 0, "hour": None}
    assert listed[room.id]["prices"] == {"day": None, "half_day": None, "hour": 0}

    changed = api(operator).patch(
        f"/api/v1/resources/{desk.id}", json={"prices": {"day": 1500}}
    )
    assert changed.status_code == 200
    # A half day without its own price costs as a full day.
    assert changed.get_json()["prices"] == {
        "day": 1500,
        "half_day": 1500,
        "hour": None,
    }
    changed = api(operator).patch(
        f"/api/v1/resources/{desk.id}", json={"prices": {"half_day": 900}}
    )
    assert changed.get_json()["prices"]["half_day"] == 900
    api(operator).patch(f"/api/v1/resources/{room.id}", json={"prices": {"hour": 1200}})

    day = next_weekday(1, min_days=2)
    availability = api().get(
        f"/api/v1/locations/{location.id}/availability?date={day.isoformat()}"
    )
    prices = {r["id"]: r["prices"] for r in availability.get_json()["resources"]}
    assert prices == {
        desk.id: {"day": 1500, "half_day": 900, "hour": None},
        room.id: {"day": None, "half_day": None, "hour": 1200},
    }
    # The booking path charges what the API shows.
    booking = create_booking(db, operator, BookingRequest(desk.id, on=day, part="am"))
    from booking.billing import services as billing

    assert billing.order_for_booking(db, booking.id).amount_cents == 900

    # Back to "as a full day", then free.
    back = api(operator).patch(
        f"/api/v1/resources/{desk.id}", json={"prices": {"half_day": None}}
    )
    assert back.get_json()["prices"]["half_day"] == 1500
    free = api(operator).patch(
        f"/api/v1/resources/{desk.id}", json={"prices": {"day": 0, "half_day": None}}
    )
    assert free.get_json()["prices"] == {"day": 0, "half_day": 0, "hour": None}


@pytest.mark.parametrize(
    "prices",
    [
        {"hour": 500},  # a desk is not booked by the hour
        {"day": None},  # a desk's day needs a price
        {"day": -1},
        {"day": 1.5},
        {"day": "15"},
        {"week": 100},
        {"day": 1000, "half_day": 0},  # a free half of a paid day
        {"day": 1000, "half_day": 1200},
    ],
)
def test_bad_desk_prices_are_refused(api, space, operator, prices):
    _, desk, _ = space
    answer = api(operator).patch(
        f"/api/v1/resources/{desk.id}", json={"prices": prices}
    )
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] in ("prices", None)


def test_rooms_have_hourly_prices_only(api, space, operator):
    _, _, room = space
    refused = api(operator).patch(
        f"/api/v1/resources/{room.id}", json={"prices": {"day": 5000}}
    )
    assert refused.status_code == 400
    assert "hour" in refused.get_json()["message"]


def test_only_the_locations_operator_sets_prices(api, space, create_user):
    _, desk, _ = space
    body = {"prices": {"day": 100}}
    other = create_user(role="operator")
    assert (
        api(other).patch(f"/api/v1/resources/{desk.id}", json=body).status_code == 403
    )
    assert (
        api(create_user()).patch(f"/api/v1/resources/{desk.id}", json=body).status_code
        == 403
    )
    assert api().patch(f"/api/v1/resources/{desk.id}", json=body).status_code == 401
    assert api(other).patch("/api/v1/resources/999999", json=body).status_code == 404


def test_resources_by_count(api, space, operator, create_user):
    location, _, _ = space
    answer = api(operator).post(
        f"/api/v1/locations/{location.id}/resources",
        json={"name": "Platz", "kind": "desk", "count": 5, "prices": {"day": 1200}},
    )
    assert answer.status_code == 201
    created = answer.get_json()
    assert [r["name"] for r in created] == [f"Platz {n}" for n in range(1, 6)]
    assert {r["prices"]["day"] for r in created} == {1200}
    more = (
        api(operator)
        .post(
            f"/api/v1/locations/{location.id}/resources",
            json={"name": "Platz", "kind": "desk", "count": 2},
        )
        .get_json()
    )
    assert [r["name"] for r in more] == ["Platz 6", "Platz 7"]
    listed = api().get(f"/api/v1/locations/{location.id}/resources").get_json()
    assert len(listed) == 2 + 7
    for count in (0, 101, "3", True):
        refused = api(operator).post(
            f"/api/v1/locations/{location.id}/resources",
            json={"name": "X", "kind": "desk", "count": count},
        )
        assert refused.status_code == 400, count
    stranger = create_user(role="operator")
    assert (
        api(stranger)
        .post(
            f"/api/v1/locations/{location.id}/resources",
            json={"name": "X", "kind": "desk", "count": 3},
        )
        .status_code
        == 403
    )
    assert len(api().get(f"/api/v1/locations/{location.id}/resources").get_json()) == 9
    # Without count the answer stays one resource.
    one = api(operator).post(
        f"/api/v1/locations/{location.id}/resources",
        json={"name": "Sofa", "kind": "flex", "capacity": 4},
    )
    assert one.status_code == 201 and one.get_json()["name"] == "Sofa"
