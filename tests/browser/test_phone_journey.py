"""The member's journey on a German phone, starting logged out (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.bookings.models import Booking
from tests.browser.pages import PASSWORD, booking_day, flash, log_in, url_path

pytestmark = pytest.mark.browser


@pytest.fixture
def space(create_location, create_resource):
    location = create_location(name="Alte Schule", slug="alte-schule")
    return {
        "location": location,
        "desk": create_resource(location, "desk", "Fensterplatz"),
        "room": create_resource(location, "room", "Lehrerzimmer", capacity=6),
    }


def test_visitor_registers_and_keeps_the_chosen_desk(new_phone, space, db):
    page = new_phone(locale="de-DE").new_page()
    desk = space["desk"]
    day = booking_day()

    page.goto("/")
    # Every page offers registration to visitors.
    expect(
        page.locator("header nav").get_by_role("link", name="Registrieren")
    ).to_be_visible()
    page.goto(f"/l/alte-schule?date={day.isoformat()}")
    page.locator(f"#r{desk.id}").get_by_role(
        "button", name=re.compile("^Vormittag")
    ).tap()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_role("link", name="Konto erstellen").tap()
    expect(page).to_have_url(re.compile(r"/register\?next="))
    page.locator("input[name=name]").fill("Jana Richter")
    page.locator("input[name=email]").fill("jana@example.org")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").tap()

    # The confirm step names exactly that desk, day and half.
    expect(page).to_have_url(re.compile(r"/bookings/new\?"))
    confirm = page.locator("section.confirm")
    expect(confirm).to_contain_text("Fensterplatz")
    expect(confirm).to_contain_text("Alte Schule")
    expect(confirm).to_contain_text(day.strftime("%d.%m.%Y"))
    expect(confirm).to_contain_text("Vormittag")
    confirm.get_by_role("button", name="Jetzt buchen").tap()

    expect(page).to_have_url(url_path("/bookings"))
    expect(flash(page, "success")).to_contain_text("Fensterplatz")
    db.rollback()
    [booking] = db.scalars(select(Booking)).all()
    assert (booking.resource_id, booking.booked_on, booking.part) == (
        desk.id,
        day,
        "am",
    )
    assert booking.user.email == "jana@example.org"


def test_visitor_logs_in_and_lands_on_the_room_step(new_phone, space, create_user):
    create_user("tom@example.org", name="Tom")
    page = new_phone(locale="de-DE", javascript=False).new_page()
    room = space["room"]
    page.goto(f"/l/alte-schule?date={booking_day().isoformat()}")
    item = page.locator(f"#r{room.id}")
    start_label = item.locator("select[name=start] option").nth(2).inner_text()
    item.locator("select[name=start]").select_option(index=2)
    item.get_by_role("button", name="Buchen").tap()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.locator("input[name=email]").fill("tom@example.org")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").tap()
    confirm = page.locator("section.confirm")
    expect(confirm).to_contain_text("Lehrerzimmer")
    expect(confirm).to_contain_text(start_label)
    confirm.get_by_role("button", name="Jetzt buchen").tap()
    expect(page).to_have_url(url_path("/bookings"))
    expect(page.locator("ul.bookings").first).to_contain_text("Lehrerzimmer")


def test_member_subscribes_and_downloads_one_booking(new_phone, space, create_user, db):
    from booking.bookings.services import BookingRequest, create_booking

    member = create_user("tom@example.org", name="Tom")
    booking = create_booking(
        db, member, BookingRequest(space["desk"].id, on=booking_day())
    )
    db.commit()
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "tom@example.org")
    page.goto("/bookings")
    subscribe = page.get_by_role("link", name="Abonnieren")
    expect(subscribe).to_have_attribute(
        "href", re.compile(r"^webcal://[^/]+/calendar/")
    )
    row = page.locator(f"#b{booking.id}")
    with page.expect_download() as download:
        row.get_by_role("link", name="In den Kalender eintragen").tap()
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == f"Buchung-{booking.id}.ics"
    assert "BEGIN:VEVENT" in body and "Fensterplatz" in body
