from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.bookings.models import Booking, BookingSlot, BookingStatus, DayPart
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import BookingConflict, Forbidden, InvalidInput, NotFound
from booking.spaces.services import add_closure
from tests.conftest import next_weekday

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def space(create_location, create_resource):
    location = create_location(horizon_days=400)
    desk = create_resource(location, "desk", "Desk 1")
    return location, desk


def book(db, user, resource, day=None, part=DayPart.FULL, **kw):
    day = day or next_weekday(1)
    return create_booking(
        db, user, BookingRequest(resource.id, on=day, part=part), **kw
    )


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def test_full_day_booking_spans_opening_hours(db, space, create_user):
    location, desk = space
    day = next_weekday(1)
    booking = book(db, create_user(), desk, day)
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.starts_at == local(day, 8)
    assert booking.ends_at == local(day, 18)
    assert booking.starts_at.tzinfo is not None


def test_second_booking_of_same_desk_conflicts(db, space, create_user):
    _, desk = space
    book(db, create_user(), desk)
    with pytest.raises(BookingConflict):
        book(db, create_user(), desk)
    assert db.query(Booking).count() == 1


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        (DayPart.AM, DayPart.PM, False),
        (DayPart.AM, DayPart.AM, True),
        (DayPart.AM, DayPart.FULL, True),
        (DayPart.FULL, DayPart.PM, True),
        (DayPart.PM, DayPart.AM, False),
    ],
)
def test_half_days(db, space, create_user, first, second, conflict):
    _, desk = space
    book(db, create_user(), desk, part=first)
    if conflict:
        with pytest.raises(BookingConflict):
            book(db, create_user(), desk, part=second)
    else:
        assert book(db, create_user(), desk, part=second).part == second


def test_morning_ends_at_midday(db, space, create_user):
    _, desk = space
    day = next_weekday(2)
    morning = book(db, create_user(), desk, day, DayPart.AM)
    afternoon = book(db, create_user(), desk, day, DayPart.PM)
    assert morning.ends_at == local(day, 13) == afternoon.starts_at


def test_flex_area_takes_exactly_its_seats(
    db, create_location, create_resource, create_user
):
    location = create_location()
    flex = create_resource(location, "flex", capacity=3)
    seats = {book(db, create_user(), flex).seat for _ in range(3)}
    assert seats == {0, 1, 2}
    with pytest.raises(BookingConflict):
        book(db, create_user(), flex)


def test_flex_half_days_reuse_seats(db, create_location, create_resource, create_user):
    location = create_location()
    flex = create_resource(location, "flex", capacity=1)
    book(db, create_user(), flex, part=DayPart.AM)
    assert book(db, create_user(), flex, part=DayPart.PM).seat == 0


def test_person_cannot_hold_two_desks_at_once(db, space, create_resource, create_user):
    location, desk = space
    other = create_resource(location, "desk", "Desk 2")
    member = create_user()
    book(db, member, desk, part=DayPart.AM)
    with pytest.raises(BookingConflict) as info:
        book(db, member, other)
    assert "already" in str(info.value.message)
    # the afternoon is still free for them
    assert book(db, member, other, part=DayPart.PM)


def test_desk_and_meeting_room_at_the_same_time_are_fine(
    db, space, create_resource, create_user
):
    location, desk = space
    room = create_resource(location, "room", "Room", capacity=6)
    member = create_user()
    day = next_weekday(1)
    book(db, member, desk, day)
    booking = create_booking(
        db,
        member,
        BookingRequest(room.id, starts_at=local(day, 10), ends_at=local(day, 11)),
    )
    assert booking.part == DayPart.HOURS


def test_person_cannot_hold_two_rooms_at_once(db, space, create_resource, create_user):
    location, _ = space
    room1 = create_resource(location, "room", "Room 1")
    booth = create_resource(location, "booth", "Booth")
    member = create_user()
    day = next_weekday(1)
    create_booking(
        db,
        member,
        BookingRequest(room1.id, starts_at=local(day, 10), ends_at=local(day, 12)),
    )
    with pytest.raises(BookingConflict):
        create_booking(
            db,
            member,
            BookingRequest(booth.id, starts_at=local(day, 11), ends_at=local(day, 13)),
        )


def test_room_by_the_hour(db, space, create_resource, create_user):
    location, _ = space
    room = create_resource(location, "room", "Room")
    day = next_weekday(3)
    create_booking(
        db,
        create_user(),
        BookingRequest(room.id, starts_at=local(day, 9), ends_at=local(day, 11)),
    )
    with pytest.raises(BookingConflict):
        create_booking(
            db,
            create_user(),
            BookingRequest(
                room.id, starts_at=local(day, 10, 30), ends_at=local(day, 11, 30)
            ),
        )
    # back to back is fine
    later = create_booking(
        db,
        create_user(),
        BookingRequest(room.id, starts_at=local(day, 11), ends_at=local(day, 12)),
    )
    assert later.starts_at == local(day, 11)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ((7, 0), (9, 0), "opening hours: 08:00"),
        # It says when the room closes, so that the next try fits.
        ((17, 0), (19, 0), "outside the opening hours: 08:00\u201318:00"),
        ((10, 15), (11, 0), "30 minutes"),
        ((11, 0), (10, 0), "after the start"),
    ],
)
def test_room_times_are_checked(
    db, space, create_resource, create_user, start, end, message
):
    location, _ = space
    room = create_resource(location, "room", "Room")
    day = next_weekday(3)
    with pytest.raises(InvalidInput) as info:
        create_booking(
            db,
            create_user(),
            BookingRequest(
                room.id, starts_at=local(day, *start), ends_at=local(day, *end)
            ),
        )
    assert message in str(info.value.message)
    assert db.query(Booking).count() == 0


def test_no_booking_on_a_closed_weekday(db, space, create_user):
    _, desk = space
    with pytest.raises(InvalidInput, match="closed"):
        book(db, create_user(), desk, next_weekday(6))


def test_no_booking_on_a_closure(db, space, create_user):
    location, desk = space
    day = next_weekday(1)
    add_closure(
        db,
        location.operators[0],
        location.id,
        starts_on=day,
        ends_on=day + timedelta(days=2),
        reason="Ferien",
    )
    with pytest.raises(InvalidInput, match="Closed"):
        book(db, create_user(), desk, day)


def test_no_booking_on_a_resource_closure(db, space, create_resource, create_user):
    location, desk = space
    other = create_resource(location, "desk", "Desk 2")
    day = next_weekday(1)
    add_closure(
        db,
        location.operators[0],
        location.id,
        starts_on=day,
        ends_on=day,
        resource_id=desk.id,
    )
    with pytest.raises(InvalidInput):
        book(db, create_user(), desk, day)
    assert book(db, create_user(), other, day)


def test_no_booking_beyond_the_horizon(
    db, create_location, create_resource, create_user
):
    location = create_location(horizon_days=30)
    desk = create_resource(location)
    far = next_weekday(1, min_days=40)
    with pytest.raises(InvalidInput, match="30 days"):
        book(db, create_user(), desk, far)


def test_no_booking_in_the_past(db, space, create_user):
    _, desk = space
    yesterday = date.today() - timedelta(days=1)
    while yesterday.weekday() > 4:
        yesterday -= timedelta(days=1)
    with pytest.raises(InvalidInput, match="over"):
        book(db, create_user(), desk, yesterday)


def test_today_is_bookable_while_the_day_is_not_over(db, space, create_user):
    _, desk = space
    day = next_weekday(1)
    noon = local(day, 12).astimezone(UTC)
    booking = book(db, create_user(), desk, day, now=noon)
    assert booking.ends_at == local(day, 18)
    # the morning, though, is over at 13:00
    with pytest.raises(InvalidInput):
        book(
            db,
            create_user(),
            desk,
            day,
            DayPart.AM,
            now=local(day, 13, 30).astimezone(UTC),
        )
    with pytest.raises(InvalidInput):
        book(db, create_user(), desk, day, now=local(day, 18).astimezone(UTC))


def test_booking_on_spring_forward_day(
    db, create_location, create_resource, create_user
):
    everyday = {
        d: [["08:00", "18:00"]]
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    location = create_location(opening_hours=everyday, horizon_days=730)
    desk = create_resource(location)
    day = _next_dst_sunday(3)
    booking = book(
        db, create_user(), desk, day, now=datetime(day.year, 3, 1, tzinfo=UTC)
    )
    assert booking.starts_at == datetime(
        day.year, 3, day.day, 6, tzinfo=UTC
    )  # 08:00 CEST
    assert booking.ends_at == datetime(day.year, 3, day.day, 16, tzinfo=UTC)
    before = book(
        db,
        create_user(),
        create_resource(location, name="b"),
        day - timedelta(days=1),
        now=datetime(day.year, 3, 1, tzinfo=UTC),
    )
    assert before.starts_at.hour == 7  # 08:00 CET the day before


def _next_dst_sunday(month: int) -> date:
    """The last Sunday of March (3) or October (10) that is still ahead."""
    year = date.today().year
    while True:
        day = date(year, month, 31)
        while day.weekday() != 6:
            day -= timedelta(days=1)
        if day > date.today():
            return day
        year += 1


def test_cancel_frees_the_desk(db, space, create_user):
    _, desk = space
    member = create_user()
    booking = book(db, member, desk)
    cancelled = cancel_booking(db, member, booking.id)
    assert cancelled.status == BookingStatus.CANCELLED
    assert cancelled.sequence == 1
    assert db.query(BookingSlot).count() == 0
    assert book(db, create_user(), desk).status == BookingStatus.CONFIRMED


def test_cannot_cancel_twice(db, space, create_user):
    _, desk = space
    member = create_user()
    booking = book(db, member, desk)
    cancel_booking(db, member, booking.id)
    with pytest.raises(BookingConflict):
        cancel_booking(db, member, booking.id)


def test_member_cannot_cancel_someone_elses_booking(db, space, create_user):
    _, desk = space
    booking = book(db, create_user(), desk)
    with pytest.raises(NotFound):
        cancel_booking(db, create_user(), booking.id)
    assert db.get(Booking, booking.id).status == BookingStatus.CONFIRMED


def test_operator_cancels_in_own_location_only(
    db, space, create_user, create_location, create_resource
):
    location, desk = space
    booking = book(db, create_user(), desk)
    stranger = create_user(role="operator")
    with pytest.raises(NotFound):
        cancel_booking(db, stranger, booking.id)
    assert (
        cancel_booking(db, location.operators[0], booking.id).status
        == BookingStatus.CANCELLED
    )


def test_cancellation_cutoff(db, create_location, create_resource, create_user):
    location = create_location(cancel_cutoff_hours=24)
    desk = create_resource(location)
    member = create_user()
    day = next_weekday(2, min_days=3)
    booking = book(db, member, desk, day)
    late = (local(day, 8) - timedelta(hours=12)).astimezone(UTC)
    with pytest.raises(Forbidden, match="24 hours"):
        cancel_booking(db, member, booking.id, now=late)
    # the operator still can
    assert (
        cancel_booking(db, location.operators[0], booking.id, now=late).status
        == BookingStatus.CANCELLED
    )


def test_operator_books_for_a_member(db, space, create_user):
    location, desk = space
    member = create_user()
    booking = create_booking(
        db,
        location.operators[0],
        BookingRequest(desk.id, on=next_weekday(1), holder_id=member.id),
    )
    assert booking.user_id == member.id
    assert booking.created_by_id == location.operators[0].id


def test_member_cannot_book_for_others(db, space, create_user):
    _, desk = space
    with pytest.raises(Forbidden):
        create_booking(
            db,
            create_user(),
            BookingRequest(desk.id, on=next_weekday(1), holder_id=create_user().id),
        )


def test_desk_needs_a_date_and_room_needs_hours(
    db, space, create_resource, create_user
):
    location, desk = space
    room = create_resource(location, "room")
    day = next_weekday(1)
    with pytest.raises(InvalidInput):
        create_booking(
            db,
            create_user(),
            BookingRequest(desk.id, starts_at=local(day, 9), ends_at=local(day, 10)),
        )
    with pytest.raises(InvalidInput):
        create_booking(db, create_user(), BookingRequest(room.id, on=day))


def test_unknown_or_inactive_resource_is_not_found(db, space, create_user):
    from booking.spaces.services import update_resource

    location, desk = space
    with pytest.raises(NotFound):
        create_booking(db, create_user(), BookingRequest(999999, on=next_weekday(1)))
    update_resource(db, location.operators[0], desk.id, {"is_active": False})
    with pytest.raises(NotFound):
        book(db, create_user(), desk)


def test_slot_table_refuses_a_double_booking_by_itself(db, space, create_user):
    """The guarantee does not depend on the Python check."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    _, desk = space
    booking = book(db, create_user(), desk)
    slot = db.query(BookingSlot).filter_by(booking_id=booking.id).first()
    with pytest.raises(IntegrityError):
        db.execute(
            insert(BookingSlot).values(
                resource_id=desk.id,
                seat=slot.seat,
                slot=slot.slot,
                booking_id=booking.id,
            )
        )
    db.rollback()


def test_slot_table_refuses_a_person_two_workplaces_by_itself(
    db, space, create_location, create_resource, create_user
):
    """One person, one workplace: the database refuses a second desk of the
    same half day to the same person, whatever the Python check saw, and
    create_booking answers with the person's conflict. Rooms do not count."""
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError

    location, desk = space
    other_desk = create_resource(location, "desk", "Desk 2")
    member = create_user()
    day = next_weekday(1)
    booking = book(db, member, desk, day)
    slots = db.query(BookingSlot).filter_by(booking_id=booking.id).all()
    assert {s.user_id for s in slots} == {member.id}
    with pytest.raises(IntegrityError):
        db.execute(
            insert(BookingSlot).values(
                resource_id=other_desk.id,
                seat=0,
                slot=slots[0].slot,
                booking_id=booking.id,
                user_id=member.id,
            )
        )
    db.rollback()
    # A booking the check no longer sees (as if another process had just
    # written it): its slots still hold the person.
    db.execute(
        update(Booking)
        .where(Booking.id == booking.id)
        .values(status=BookingStatus.CANCELLED)
    )
    db.commit()
    with pytest.raises(BookingConflict) as refused:
        book(db, member, other_desk, day)
    assert str(refused.value.message) == "You already have a desk booked at that time."
    # A room at the same time is fine, and its slots carry no holder.
    room = create_resource(location, "room", "Room")
    start = local(day, 10)
    held = create_booking(
        db,
        member,
        BookingRequest(room.id, starts_at=start, ends_at=start + timedelta(hours=1)),
    )
    room_slots = db.query(BookingSlot).filter_by(booking_id=held.id).all()
    assert room_slots and {s.user_id for s in room_slots} == {None}


@pytest.mark.parametrize(
    "values",
    [
        {"date": "0001-01-01"},
        {"date": "9999-12-31"},
        {"date": "9999-12-31", "part": "pm"},
        {"start": "0001-01-01T00:00+01:00", "end": "0001-01-01T01:00+01:00"},
        {"start": "9999-12-31T22:00-05:00", "end": "9999-12-31T23:00-05:00"},
        {"start": "9999-12-31T23:00+00:00", "end": "9999-12-31T23:30+00:00"},
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_refused(
    db, api, space, create_resource, create_user, values
):
    location, desk = space
    room = create_resource(location, "room", "Room")
    resource = desk if "date" in values else room
    response = api(create_user()).post(
        "/api/v1/bookings", json={"resource_id": resource.id, **values}
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "invalid_input"
    assert body["message"] in (
        "That time is already over.",
        "Bookings are possible at most 400 days ahead.",
    )
    assert db.query(Booking).count() == 0
