"""Check-in, release of no-shows, waitlist notification."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.checkin import services
from booking.errors import BookingConflict, InvalidInput
from tests.conftest import next_weekday

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def space(create_location, create_resource):
    location = create_location(horizon_days=60)
    flex = create_resource(location, "flex", "Open space", capacity=2)
    return location, flex


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def test_check_in_window(db, api, space, create_user):
    location, flex = space
    day = next_weekday(1)
    member = create_user()
    booking = create_booking(db, member, BookingRequest(flex.id, on=day))
    with pytest.raises(BookingConflict):
        services.check_in(db, member, booking.id, now=at(day, 6))
    checked = services.check_in(db, member, booking.id, now=at(day, 9))
    assert checked.checked_in_at == at(day, 9)
    other = api(create_user()).post(f"/api/v1/bookings/{booking.id}/check-in")
    assert other.status_code == 404


def test_door_entry_checks_in(db, space, create_user):
    location, flex = space
    day = next_weekday(1)
    member = create_user()
    booking = create_booking(db, member, BookingRequest(flex.id, on=day))
    found = services.record_door_entry(db, member.id, location.id, at=at(day, 8, 5))
    assert found == booking.id
    assert db.get(Booking, booking.id).checked_in_at == at(day, 8, 5)
    # Once checked in, the door finds nothing more to check in.
    assert services.record_door_entry(db, member.id, location.id, at=at(day, 9)) is None


def test_door_entry_checks_in_the_booking_the_door_opened_for(db, space, create_user):
    location, flex = space
    day = next_weekday(1)
    member = create_user()
    booking = create_booking(db, member, BookingRequest(flex.id, on=day))
    found = services.record_door_entry(
        db, member.id, location.id, at=at(day, 8, 5), booking_id=booking.id
    )
    assert found == booking.id
    assert db.get(Booking, booking.id).checked_in_at == at(day, 8, 5)
    # Someone else's booking id is never checked in for this person.
    other = create_user()
    assert (
        services.record_door_entry(
            db, other.id, location.id, at=at(day, 8, 6), booking_id=booking.id
        )
        is None
    )


def test_release_unchecked_flex_bookings_and_tell_the_waitlist(
    app, db, mailbox, space, create_user
):
    location, flex = space
    operator = location.operators[0]
    day = next_weekday(1)
    now = at(day, 7)
    a, b = create_user(), create_user()
    waiting = create_user("wait@example.org")
    first = create_booking(db, a, BookingRequest(flex.id, on=day), now=now)
    second = create_booking(db, b, BookingRequest(flex.id, on=day), now=now)
    with pytest.raises(InvalidInput):
        services.join_waitlist(db, waiting, location.id, next_weekday(2), now=now)
    services.join_waitlist(db, waiting, location.id, day, now=now)
    services.set_release_time(db, operator, location.id, "11:00")
    services.check_in(db, a, first.id, now=at(day, 9))
    mailbox.wait(2)
    mailbox.clear()

    assert services.release_unchecked(db, now=at(day, 10, 59)) == []
    assert services.release_unchecked(db, now=at(day, 11, 1)) == [second.id]
    assert services.release_unchecked(db, now=at(day, 11, 2)) == []
    db.rollback()
    db.expire_all()
    assert db.get(Booking, second.id).status == BookingStatus.CANCELLED
    assert db.get(Booking, first.id).status == BookingStatus.CONFIRMED
    mails = mailbox.wait(2)
    assert {m["To"] for m in mails} == {b.email, "wait@example.org"}
    # The freed seat can be booked again: the first to book gets it.
    create_booking(db, waiting, BookingRequest(flex.id, on=day), now=at(day, 11, 5))


def test_cancellation_tells_the_waitlist_once(
    db, api, mailbox, create_location, create_resource, create_user
):
    location = create_location(horizon_days=60)
    desk = create_resource(location, "desk", "Only desk")
    day = next_weekday(3)
    holder = create_user()
    booking = create_booking(db, holder, BookingRequest(desk.id, on=day))
    waiting = create_user("w@example.org")
    joined = api(waiting).post(f"/api/v1/locations/{location.id}/waitlist?date={day}")
    assert joined.status_code == 201
    mailbox.wait(1)
    mailbox.clear()
    cancel_booking(db, holder, booking.id)
    mails = mailbox.wait(2)
    assert [m for m in mails if m["To"] == "w@example.org"]
    assert services.desk_freed(db, location.id, day) == 0  # told already


def test_check_in_button_on_my_bookings(
    client, auth, db, create_location, create_resource, create_user
):
    all_day = {
        d: [["00:00", "24:00"]]
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    location = create_location(opening_hours=all_day)
    flex = create_resource(location, "flex", "Open space", capacity=2)
    member = create_user("c@example.org")
    today = datetime.now(BERLIN).date()
    booking = create_booking(db, member, BookingRequest(flex.id, on=today))
    auth.login("c@example.org")
    page = client.get("/bookings").get_data(as_text=True)
    assert f"/bookings/{booking.id}/check-in" in page
    token = auth.csrf("/bookings")
    response = client.post(
        f"/bookings/{booking.id}/check-in", data={"csrf_token": token}
    )
    assert response.status_code == 303
    page = client.get("/bookings").get_data(as_text=True)
    assert "checked in" in page and f"/bookings/{booking.id}/check-in" not in page
