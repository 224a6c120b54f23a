"""My bookings: live bookings only under "Upcoming", cancelling asks once,
the waitlist with its space and day (issue 17.8)."""

import pytest

from tests.conftest import next_weekday


@pytest.fixture
def desk(create_location, create_resource):
    location = create_location(name="Alte Schule", slug="alte-schule")
    return create_resource(location, "desk", "Fensterplatz")


def _section(page: str, heading: str) -> str:
    start = page.index(f">{heading}</h2>")
    end = page.find("<h2", start)
    return page[start : end if end != -1 else None]


def test_cancelled_booking_leaves_upcoming(client, auth, create_user, desk, db):
    from booking.bookings.services import (
        BookingRequest,
        cancel_booking,
        create_booking,
    )

    member = create_user("m@example.org")
    booking = create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    cancel_booking(db, member, booking.id)
    auth.login("m@example.org")
    page = client.get("/bookings").get_data(as_text=True)
    assert "Fensterplatz" not in _section(page, "Upcoming")
    assert "No upcoming bookings." in _section(page, "Upcoming")
    assert "Fensterplatz" in _section(page, "Cancelled")


def test_cancelling_asks_once_before_it_cancels(client, auth, create_user, desk, db):
    from booking.bookings.models import Booking
    from booking.bookings.services import BookingRequest, create_booking

    member = create_user("m@example.org")
    booking = create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    auth.login("m@example.org")
    page = client.get("/bookings").get_data(as_text=True)
    assert f'href="/bookings/{booking.id}/cancel"' in page
    step = client.get(f"/bookings/{booking.id}/cancel")
    assert step.status_code == 200
    text = step.get_data(as_text=True)
    assert "Cancel booking?" in text and "Fensterplatz" in text
    assert f'method="post" action="/bookings/{booking.id}/cancel"' in text
    db.rollback()
    db.expire_all()
    assert db.get(Booking, booking.id).status == "confirmed"


def test_cancel_step_of_someone_elses_booking_is_not_found(
    client, auth, create_user, desk, db
):
    from booking.bookings.services import BookingRequest, create_booking

    booking = create_booking(
        db, create_user(), BookingRequest(desk.id, on=next_weekday(1))
    )
    create_user("m@example.org")
    auth.login("m@example.org")
    assert client.get(f"/bookings/{booking.id}/cancel").status_code == 404


def test_waitlist_sits_in_my_bookings_with_space_and_day(
    client, auth, create_user, desk, db
):
    from booking.bookings.services import BookingRequest, create_booking
    from booking.checkin.services import join_waitlist

    day = next_weekday(1)
    create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    member = create_user("m@example.org")
    join_waitlist(db, member, desk.location_id, day)
    auth.login("m@example.org")
    client.set_cookie("lang", "de")
    page = client.get("/bookings").get_data(as_text=True)
    waitlist = _section(page, "Warteliste")
    assert "Alte Schule" in waitlist
    assert day.strftime("%d.%m.%Y") in waitlist
    assert "wartend" in waitlist
    assert "Warteliste verlassen" in waitlist
    account = client.get("/account/").get_data(as_text=True)
    assert 'href="/bookings#waitlist"' in account
