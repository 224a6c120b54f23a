"""An operator runs a location from a phone: set up, look at a day, cancel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.bookings.models import Booking
from booking.bookings.services import BookingRequest, create_booking
from booking.spaces.models import Location, Resource
from tests.browser.pages import booking_day, flash, log_in, url_path

pytestmark = pytest.mark.browser


def test_operator_sets_up_a_location_and_cancels_a_members_booking(
    page, create_user, db
):
    create_user("anke@example.org", role="operator", name="Anke")
    member = create_user("jana@example.org", name="Jana Richter")
    day = booking_day()
    log_in(page, "anke@example.org")

    page.locator("header nav").get_by_role("link", name="Manage").tap()
    expect(page).to_have_url(url_path("/manage/"))
    page.get_by_role("link", name="New location").tap()
    form = page.locator("form.stack").first
    form.locator("input[name=name]").fill("Alte Schule Naunhof")
    form.locator("input[name=slug]").fill("naunhof")
    form.locator("input[name=village]").fill("Naunhof")
    form.locator("input[name=address]").fill("Markt 3, 04683 Naunhof")
    form.locator("input[name=lat]").fill("51.2776")
    form.locator("input[name=lon]").fill("12.5886")
    expect(form.locator("input[name=hours_mon]")).to_have_value("08:00-18:00")
    form.get_by_role("button", name="Create location").tap()

    expect(flash(page, "success")).to_have_text("Location created.")
    expect(page).to_have_url(re.compile(r"/manage/locations/\d+$"))
    location = db.scalar(select(Location).where(Location.slug == "naunhof"))
    assert location is not None and location.name == "Alte Schule Naunhof"

    add = page.locator("form[action$='/resources']")
    expect(add.locator("input[name=count]")).to_have_value("1")
    add.locator("input[name=name]").fill("Platz am Fenster")
    add.locator("select[name=kind]").select_option("desk")
    add.get_by_role("button", name="Add").tap()
    expect(flash(page, "success")).to_have_text("Added.")
    expect(page.locator("ul.resources input[name=name]")).to_have_value(
        "Platz am Fenster"
    )
    db.rollback()
    desk = db.scalar(select(Resource).where(Resource.location_id == location.id))
    assert desk is not None and desk.kind == "desk"

    booking = create_booking(db, member, BookingRequest(desk.id, on=day))

    page.locator("header nav").get_by_role("link", name="Manage").tap()
    page.get_by_role("link", name="Today's bookings").tap()
    expect(page).to_have_url(url_path(f"/manage/locations/{location.id}/day"))
    page.locator("main input[type=date]").fill(day.isoformat())
    page.locator("main").get_by_role("button", name="Show").tap()
    day_url = f"/manage/locations/{location.id}/day?date={day.isoformat()}"
    expect(page).to_have_url(url_path(day_url))
    row = page.locator("ul.day-bookings li.booking")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Platz am Fenster")
    expect(row).to_contain_text("Jana Richter")
    expect(row).to_contain_text("confirmed")

    # Asks once before cancelling.
    row.get_by_role("link", name="Cancel …").tap()
    page.get_by_role("button", name="Yes, cancel it").tap()
    expect(page).to_have_url(url_path(day_url))
    expect(flash(page, "success")).to_have_text("The booking is cancelled.")
    expect(row).to_have_class(re.compile(r"\bcancelled\b"))
    expect(row.get_by_role("link", name="Cancel …")).to_have_count(0)
    db.rollback()  # end the read snapshot
    db.expire_all()  # and forget what this session loaded before
    assert db.get(Booking, booking.id).status == "cancelled"
