"""Several days and a guest in one step, on a German phone (issue 17 points
3 and 4): every Tuesday for some weeks, per day what was booked and what was
refused and why; a booking for a guest from the confirm step."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.bookings.models import Booking
from booking.bookings.services import BookingRequest, create_booking
from tests.browser.pages import booking_day, flash, log_in, url_path

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LANDDESK_SHOTS")


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.fixture
def space(create_location, create_resource):
    location = create_location(name="Alte Schule", slug="alte-schule", horizon_days=90)
    return location, create_resource(location, "desk", "Fensterplatz")


def test_every_tuesday_for_eight_weeks_in_one_step(new_phone, space, db, create_user):
    location, desk = space
    first = booking_day()
    days = [first + timedelta(weeks=n) for n in range(8)]
    # Someone has the third of those days already.
    create_booking(db, create_user(), BookingRequest(desk.id, on=days[2]))
    create_user("jana@example.org", name="Jana Richter", locale="de")
    page = new_phone(locale="de-DE", javascript=False).new_page()
    log_in(page, "jana@example.org")
    page.goto(f"/bookings/new?resource_id={desk.id}&date={first.isoformat()}")
    confirm = page.locator("section.confirm")
    confirm.get_by_text("Mehrere Tage buchen").tap()
    weekday = page.locator("label", has_text=re.compile("^ *Jeden "))
    expect(weekday).to_be_visible()
    weekday.locator("input").check()
    page.locator("input[name=count]").fill("8")
    shot(page, "confirm-several-days")
    confirm.get_by_role("button", name="Jetzt buchen").tap()

    expect(page.locator("h1")).to_have_text("Ihre Tage")
    booked = page.locator("ul.series.booked li")
    refused = page.locator("ul.series.refused li")
    expect(booked).to_have_count(7)
    expect(refused).to_have_count(1)
    expect(page.locator("h2").first).to_have_text("7 Tage gebucht")
    expect(refused).to_have_text(
        re.compile(
            re.escape(days[2].strftime("%d.%m.%Y"))
            + r".*Das ist zu dieser Zeit schon gebucht\."
        )
    )
    text = page.locator("main").inner_text()
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
    # Fits the phone: nothing wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "series-result")
    db.rollback()
    mine = db.scalars(
        select(Booking.booked_on)
        .join(Booking.user)
        .where(Booking.user.has(email="jana@example.org"))
    ).all()
    assert sorted(mine) == [d for d in days if d != days[2]]


def test_a_guest_from_the_confirm_step(new_phone, space, db, create_user):
    location, desk = space
    day = booking_day()
    create_user("jana@example.org", name="Jana Richter", locale="de")
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "jana@example.org")
    page.goto(f"/bookings/new?resource_id={desk.id}&date={day.isoformat()}")
    confirm = page.locator("section.confirm")
    confirm.get_by_text("Für einen Gast buchen").tap()
    page.get_by_label("Name des Gastes").fill("Gisela Gast")
    page.get_by_label("E-Mail-Adresse des Gastes").fill("gisela@example.org")
    shot(page, "confirm-guest")
    confirm.get_by_role("button", name="Jetzt buchen").tap()
    expect(page).to_have_url(url_path("/bookings"))
    expect(flash(page, "success")).to_contain_text("für Ihren Gast Gisela Gast")
    expect(page.locator("ul.bookings li.booking").first).to_contain_text(
        "Für Ihren Gast Gisela Gast"
    )
    shot(page, "mine-guest")
    db.rollback()
    [booking] = db.scalars(select(Booking)).all()
    assert (booking.guest_name, booking.guest_email) == (
        "Gisela Gast",
        "gisela@example.org",
    )
