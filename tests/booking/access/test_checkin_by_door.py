"""Coming in through the door checks the booking in, so the no-show release
leaves it alone: by app unlock and by a PIN typed on the controller's keypad."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.bookings.models import Booking, BookingStatus
from booking.checkin import services as checkin
from tests.support.doors import fresh, wait_until


@pytest.fixture
def flex(create_resource, location):
    return create_resource(location, "flex", "Open space", capacity=4)


@pytest.fixture
def flex_booking(db, flex):
    """A confirmed flex booking running now (local day of the location)."""

    def make(user) -> Booking:
        now = datetime.now(UTC)
        booking = Booking(
            user_id=user.id,
            resource_id=flex.id,
            location_id=flex.location_id,
            seat=0,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            booked_on=now.astimezone(ZoneInfo("Europe/Berlin")).date(),
            part="full",
            status="confirmed",
        )
        db.add(booking)
        db.commit()
        return booking

    return make


def _released_after_door(db, operator, location, *bookings) -> list[int]:
    checkin.set_release_time(db, operator, location.id, "00:00")
    return checkin.release_unchecked(db, now=datetime.now(UTC))


def test_pin_entry_checks_in_and_survives_the_no_show_release(
    api,
    db,
    member,
    create_user,
    operator,
    location,
    door,
    flex_booking,
    make_controller,
    link,
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    came = flex_booking(member)
    stayed_home = flex_booking(create_user("away@example.org"))
    (item,) = api(member).get(f"/api/v1/bookings/{came.id}/doors").get_json()
    assert controller.enter_pin(item["pin"]).accepted

    def checked_in():
        fresh(db)
        return db.get(Booking, came.id).checked_in_at

    assert wait_until(checked_in), "a PIN entry did not check the booking in"
    assert db.get(Booking, stayed_home.id).checked_in_at is None
    released = _released_after_door(db, operator, location)
    assert released == [stayed_home.id]
    fresh(db)
    assert db.get(Booking, came.id).status == BookingStatus.CONFIRMED
    assert db.get(Booking, stayed_home.id).status == BookingStatus.CANCELLED


def test_app_unlock_checks_in_and_survives_the_no_show_release(
    api,
    db,
    member,
    create_user,
    operator,
    location,
    door,
    flex_booking,
    make_controller,
    link,
):
    door_row, secret = door
    make_controller(door_row, secret)
    came = flex_booking(member)
    stayed_home = flex_booking(create_user("away@example.org"))
    response = api(member).post(f"/api/v1/doors/{door_row.id}/unlock")
    assert response.status_code == 200, response.get_json()
    released = _released_after_door(db, operator, location)
    assert released == [stayed_home.id]
    fresh(db)
    assert db.get(Booking, came.id).checked_in_at is not None
    assert db.get(Booking, came.id).status == BookingStatus.CONFIRMED
