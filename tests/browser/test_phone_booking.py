"""A coworker books on a phone: desks, rooms, cancelling, conflicts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from booking.bookings.models import Booking
from tests.browser.pages import (
    PASSWORD,
    Taps,
    booking_day,
    flash,
    log_in,
    log_out,
    url_path,
)

pytestmark = pytest.mark.browser

FULL_DAY = re.compile(r"^Full day")


@pytest.fixture
def space(create_location, create_resource):
    """A location open Monday to Friday 08:00-18:00 with two desks and a room."""
    location = create_location(name="Bahnhof Eilenburg", slug="eilenburg")
    return {
        "location": location,
        "desk": create_resource(location, "desk", "Desk 1"),
        "other_desk": create_resource(location, "desk", "Desk 2"),
        "room": create_resource(location, "room", "Besprechungsraum", capacity=6),
    }


def bookings_in_db(db) -> list[Booking]:
    db.rollback()  # end this thread's snapshot: the server wrote in its own
    return list(db.scalars(select(Booking).order_by(Booking.id)))


def upcoming(page: Page):
    return page.locator("ul.bookings").first.locator("li.booking")


def test_coworker_registers_books_a_desk_and_cancels_it(page, space, db):
    desk = space["desk"]
    day = booking_day()

    page.goto("/register")
    page.locator("input[name=name]").fill("Jana Richter")
    page.locator("input[name=email]").fill("jana@example.org")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Create account").tap()
    expect(flash(page, "success")).to_contain_text("Welcome, Jana Richter")
    log_out(page)
    log_in(page, "jana@example.org")

    page.goto("/")
    page.get_by_role("link", name=re.compile("Bahnhof Eilenburg")).tap()
    expect(page).to_have_url(url_path("/l/eilenburg"))
    chip = page.locator(f'nav.days a[href$="date={day.isoformat()}"]')
    chip.tap()
    expect(page).to_have_url(url_path(f"/l/eilenburg?date={day.isoformat()}"))
    expect(chip).to_have_attribute("aria-current", "date")

    taps = Taps()
    taps.tap(page.locator(f"#r{desk.id}").get_by_role("button", name=FULL_DAY))
    expect(page).to_have_url(url_path("/bookings"))
    assert taps.count <= 3
    expect(flash(page, "success")).to_contain_text("Booked: Desk 1")
    row = upcoming(page)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Desk 1")
    expect(row).to_contain_text("Bahnhof Eilenburg")
    expect(row.locator(".status")).to_have_text("confirmed")

    # The location page now shows the desk as taken for that day.
    row.get_by_role("link", name="Bahnhof Eilenburg").tap()
    expect(page).to_have_url(url_path(f"/l/eilenburg?date={day.isoformat()}"))
    expect(page.locator(f"#r{desk.id} .actions")).to_contain_text("Full day: booked")
    expect(page.locator(f"#r{desk.id}").get_by_role("button")).to_have_count(0)

    page.locator("header nav").get_by_role("link", name="My bookings").tap()
    row = upcoming(page)
    # Cancelling asks once, on a page of its own (no JavaScript needed).
    row.get_by_role("link", name="Cancel").tap()
    expect(page).to_have_url(re.compile(r"/bookings/\d+/cancel$"))
    expect(page.locator("section.confirm")).to_contain_text("Desk 1")
    [booking] = bookings_in_db(db)
    assert booking.status == "confirmed"
    page.get_by_role("button", name="Yes, cancel it").tap()
    expect(flash(page, "success")).to_have_text("The booking is cancelled.")
    expect(upcoming(page)).to_have_count(0)
    row = page.locator("ul.bookings.cancelled li.booking")
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("cancelled")
    expect(row.get_by_role("link", name="Cancel")).to_have_count(0)
    [booking] = bookings_in_db(db)
    assert booking.status == "cancelled"

    row.get_by_role("link", name="Bahnhof Eilenburg").tap()
    expect(page).to_have_url(url_path(f"/l/eilenburg?date={day.isoformat()}"))
    expect(page.locator(f"#r{desk.id} .taken")).to_have_count(0)
    expect(
        page.locator(f"#r{desk.id}").get_by_role("button", name=FULL_DAY)
    ).to_be_visible()


def test_desk_booking_works_without_javascript(new_phone, space, create_user, db):
    create_user("tom@example.org", name="Tom")
    page = new_phone(javascript=False).new_page()
    day = booking_day()
    log_in(page, "tom@example.org")
    page.goto(f"/l/eilenburg?date={day.isoformat()}")

    desk = page.locator(f"#r{space['other_desk'].id}")
    desk.get_by_role("button", name=re.compile("^Morning")).tap()

    expect(page).to_have_url(url_path("/bookings"))
    expect(upcoming(page)).to_have_count(1)
    expect(upcoming(page)).to_contain_text("Desk 2")
    expect(upcoming(page)).to_contain_text("(morning)")
    [booking] = bookings_in_db(db)
    assert (booking.resource_id, booking.part, booking.booked_on) == (
        space["other_desk"].id,
        "am",
        day,
    )


def test_meeting_room_by_the_hour(page, space, create_user, db):
    create_user("tom@example.org", name="Tom")
    room = space["room"]
    day = booking_day()
    log_in(page, "tom@example.org")
    page.goto(f"/l/eilenburg?date={day.isoformat()}")

    item = page.locator(f"#r{room.id}")
    start_select = item.locator("select[name=start]")
    # Opening at 08:00 in half-hour steps: the fifth choice is 10:00.
    option = start_select.locator("option").nth(4)
    start_value = option.get_attribute("value")
    start_label = option.inner_text()
    assert start_value is not None
    taps = Taps()
    taps.choose(start_select, start_value)
    taps.choose(item.locator("select[name=duration]"), "120")
    taps.tap(item.get_by_role("button", name="Book"))

    expect(page).to_have_url(url_path("/bookings"))
    assert taps.count <= 3
    expect(flash(page, "success")).to_contain_text("Booked: Besprechungsraum")
    expect(upcoming(page)).to_contain_text(start_label)
    [booking] = bookings_in_db(db)
    starts_at = datetime.fromisoformat(start_value)
    assert booking.part == "hours"
    assert booking.starts_at == starts_at
    assert booking.ends_at == starts_at + timedelta(hours=2)

    page.goto(f"/l/eilenburg?date={day.isoformat()}")
    item = page.locator(f"#r{room.id}")
    expect(item).to_contain_text(f"Booked: {start_label}")
    expect(item.locator(f'option[value="{start_value}"]')).to_have_count(0)


def test_second_member_sees_a_conflict_and_gets_no_booking(
    new_phone, space, create_user, db
):
    create_user("jana@example.org", name="Jana")
    create_user("tom@example.org", name="Tom")
    day = booking_day()
    here = f"/l/eilenburg?date={day.isoformat()}"
    desk_id = space["desk"].id
    jana = new_phone().new_page()
    tom = new_phone().new_page()
    for page, email in ((jana, "jana@example.org"), (tom, "tom@example.org")):
        log_in(page, email)
        page.goto(here)
        expect(
            page.locator(f"#r{desk_id}").get_by_role("button", name=FULL_DAY)
        ).to_be_visible()

    # Both saw the desk free; Jana is quicker.
    jana.locator(f"#r{desk_id}").get_by_role("button", name=FULL_DAY).tap()
    expect(jana).to_have_url(url_path("/bookings"))
    tom.locator(f"#r{desk_id}").get_by_role("button", name=FULL_DAY).tap()

    expect(tom).to_have_url(url_path(here))
    error = tom.get_by_role("alert")
    expect(error).to_have_text("This is already booked for that time.")
    expect(error).to_be_visible()
    expect(tom.locator(f"#r{desk_id} .actions")).to_contain_text("Full day: booked")
    tom.locator("header nav").get_by_role("link", name="My bookings").tap()
    expect(upcoming(tom)).to_have_count(0)
    expect(tom.locator("ul.bookings").first).to_contain_text("No upcoming bookings.")

    bookings = bookings_in_db(db)
    assert [(b.resource_id, b.user.email, b.status) for b in bookings] == [
        (desk_id, "jana@example.org", "confirmed")
    ]
