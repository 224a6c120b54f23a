"""Bookings refuses other domains' changes that would orphan a booking."""

from __future__ import annotations

import pytest

from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import InvalidInput
from booking.spaces.services import update_resource
from tests.conftest import next_weekday


def test_booked_seats_of_a_flex_area_cannot_be_removed(
    db, create_location, create_resource, create_user
):
    location = create_location()
    operator = location.operators[0]
    flex = create_resource(location, "flex", "Open space", capacity=3)
    day = next_weekday(2)
    first = create_booking(db, create_user(), BookingRequest(flex.id, on=day))
    second = create_booking(db, create_user(), BookingRequest(flex.id, on=day))
    assert {first.seat, second.seat} == {0, 1}
    with pytest.raises(InvalidInput, match="Seats that are booked"):
        update_resource(db, operator, flex.id, {"capacity": 1})
    assert update_resource(db, operator, flex.id, {"capacity": 2}).capacity == 2
    on_seat_1 = first if first.seat == 1 else second
    cancel_booking(db, on_seat_1.user, on_seat_1.id)
    assert update_resource(db, operator, flex.id, {"capacity": 1}).capacity == 1
