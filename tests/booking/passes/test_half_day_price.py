"""One rule, one place: what a half day costs is read by the answers'
``prices`` and by the price a booking is charged from the same function."""

from __future__ import annotations

import pytest

from booking.bookings.models import Booking, DayPart
from booking.passes.services.prices import booking_price_cents
from booking.spaces.models import Resource, ResourceKind, half_day_price_cents


@pytest.mark.parametrize(
    ("day", "half", "expected"),
    [(1500, 0, 1500), (1500, 900, 900), (0, 0, 0)],
)
def test_shown_and_charged_half_day_price_agree(day, half, expected):
    desk = Resource(
        kind=ResourceKind.DESK,
        price_day_cents=day,
        price_half_day_cents=half,
        price_hour_cents=0,
    )
    assert half_day_price_cents(desk) == expected
    assert desk.prices["half_day"] == expected
    for part in (DayPart.AM, DayPart.PM):
        assert booking_price_cents(desk, Booking(part=part)) == expected
    assert booking_price_cents(desk, Booking(part=DayPart.FULL)) == day
