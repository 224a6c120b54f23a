from datetime import UTC, date, datetime

import pytest

from booking.bookings import rules
from booking.bookings.models import DayPart
from booking.bookings.rules import day_slots, overlaps, room_slots
from booking.errors import InvalidInput
from booking.spaces.hours import day_plan, default_opening_hours, validate_opening_hours


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 5, 4, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((9, 10), (10, 11), False),  # touching
        ((9, 11), (10, 12), True),
        ((10, 12), (9, 11), True),
        ((9, 12), (10, 11), True),  # contains
        ((10, 11), (9, 12), True),
        ((9, 10), (11, 12), False),
        ((9, 10), (9, 10), True),
    ],
)
def test_overlap_is_half_open(a, b, expected):
    assert bool(overlaps(at(a[0]), at(a[1]), at(b[0]), at(b[1]))) is expected


def test_default_opening_hours_are_weekdays_eight_to_six():
    hours = default_opening_hours()
    assert hours["mon"] == [["08:00", "18:00"]]
    assert hours["fri"] == [["08:00", "18:00"]]
    assert hours["sat"] == [] and hours["sun"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"mon": [["18:00", "08:00"]]},
        {"mon": [["08:00", "12:00"], ["11:00", "14:00"]]},
        {"mon": [["8:00", "12:00"]]},
        {"mon": [["24:00", "24:00"]]},
        {"mon": [["08:00", "25:00"]]},
        {"funday": []},
        {"mon": "08:00-18:00"},
        [],
    ],
)
def test_invalid_opening_hours_are_refused(bad):
    with pytest.raises(InvalidInput):
        validate_opening_hours(bad)


def test_midnight_end_is_allowed():
    hours = validate_opening_hours({"sat": [["00:00", "24:00"]]})
    plan = day_plan(hours, "Europe/Berlin", "13:00", date(2026, 5, 9))
    assert plan.full == (
        datetime(2026, 5, 8, 22, tzinfo=UTC),
        datetime(2026, 5, 9, 22, tzinfo=UTC),
    )


def test_day_plan_on_spring_forward_sunday():
    # 29 March 2026: clocks jump from 02:00 to 03:00 in Berlin.
    hours = validate_opening_hours({"sun": [["00:00", "24:00"]]})
    plan = day_plan(hours, "Europe/Berlin", "13:00", date(2026, 3, 29))
    start, end = plan.full
    assert start == datetime(2026, 3, 28, 23, tzinfo=UTC)  # 00:00 CET
    assert end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # 24:00 CEST
    assert (end - start).total_seconds() == 23 * 3600
    assert plan.am[1] == datetime(2026, 3, 29, 11, tzinfo=UTC)  # 13:00 CEST


def test_day_plan_on_fall_back_sunday():
    # 25 October 2026: clocks go back from 03:00 to 02:00.
    hours = validate_opening_hours({"sun": [["00:00", "24:00"]]})
    plan = day_plan(hours, "Europe/Berlin", "13:00", date(2026, 10, 25))
    start, end = plan.full
    assert (end - start).total_seconds() == 25 * 3600
    assert plan.pm[0] == datetime(2026, 10, 25, 12, tzinfo=UTC)  # 13:00 CET


def test_full_day_and_half_day_share_slots():
    hours = default_opening_hours()
    day = date(2026, 5, 4)
    plan = day_plan(hours, "Europe/Berlin", "13:00", day)
    full = set(day_slots(day, DayPart.FULL, plan))
    assert set(day_slots(day, DayPart.AM, plan)) < full
    assert set(day_slots(day, DayPart.PM, plan)) < full
    assert not set(day_slots(day, DayPart.AM, plan)) & set(
        day_slots(day, DayPart.PM, plan)
    )


def test_room_slots_are_half_hours():
    assert len(room_slots(at(9), at(11))) == 4
    assert room_slots(at(9), at(10)) == tuple(
        range(room_slots(at(9), at(10))[0], room_slots(at(9), at(10))[0] + 2)
    )


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-12-24", date(2026, 12, 24)),
        (" 2027-03-01 ", date(2027, 3, 1)),
    ],
)
def test_dates_as_date_pickers_send_them(text, day):
    assert rules.parse_date(text) == day


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Choose a date."),
        (None, "Choose a date."),
        ("morgen", "This is not a valid date"),
        ("2027-02-31", "This is not a valid date"),
        ("24.12.2026", "This is not a valid date"),
    ],
)
def test_a_missing_or_unreadable_date_says_what_is_wanted(app, text, message):
    with pytest.raises(InvalidInput) as refused:
        rules.parse_date(text)
    assert str(refused.value.message).startswith(message)
    assert refused.value.field == "date"
