"""webcal:// subscribe links and one booking as an .ics download (issue 17.5)."""

from __future__ import annotations

import pytest

from booking.bookings.services import BookingRequest, create_booking
from tests.conftest import next_weekday


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PUBLIC_URL": "https://dorfbuero.example"}


@pytest.fixture
def booking(db, create_user, create_location, create_resource):
    location = create_location(name="Alte Schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    member = create_user("m@example.org")
    return create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))


def test_subscribe_links_are_webcal_from_the_public_url(client, auth, booking):
    auth.login("m@example.org")
    for path in ("/bookings", "/account/"):
        # The request came to "localhost": the link is PUBLIC_URL's host.
        page = client.get(path).get_data(as_text=True)
        assert 'href="webcal://dorfbuero.example/calendar/' in page, path
        assert "webcal://localhost" not in page, path
        assert "calendar.google.com/calendar/r?cid=webcal%3A//dorfbuero" in page


def test_one_booking_downloads_as_ics(client, auth, booking, create_user):
    auth.login("m@example.org")
    page = client.get("/bookings").get_data(as_text=True)
    assert f'href="/bookings/{booking.id}/calendar.ics" download' in page
    response = client.get(f"/bookings/{booking.id}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.count("BEGIN:VEVENT") == 1
    assert f"UID:booking-{booking.id}@dorfbuero.example" in body
    assert "Fensterplatz" in body
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="booking-{booking.id}.ics"'
    )
    client.set_cookie("lang", "de")
    german = client.get(f"/bookings/{booking.id}/calendar.ics")
    assert german.headers["Content-Disposition"] == (
        f'attachment; filename="Buchung-{booking.id}.ics"'
    )


def test_someone_elses_booking_is_not_downloadable(client, auth, booking, create_user):
    create_user("o@example.org")
    auth.login("o@example.org")
    assert client.get(f"/bookings/{booking.id}/calendar.ics").status_code == 404
