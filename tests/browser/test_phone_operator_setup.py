"""An operator on a phone, in German: a location with its desks, a room and
a door in four page loads; closing a booked day; the day view."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from booking.access.models import Door
from booking.bookings.models import Booking
from booking.bookings.services import BookingRequest, create_booking
from booking.spaces.models import Location, Resource
from tests.browser.pages import booking_day, flash, log_in, url_path

pytestmark = pytest.mark.browser

# LANDDESK_SHOTS=/some/dir keeps a screenshot of each page looked at.
SHOTS = os.environ.get("LANDDESK_SHOTS")


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        height = page.evaluate("document.documentElement.scrollHeight")
        for part, top in enumerate(range(0, height, 1200)):
            clip = {"x": 0, "y": top, "width": 390, "height": min(1200, height - top)}
            page.screenshot(
                path=f"{SHOTS}/{name}-{part + 1}.png", full_page=True, clip=clip
            )


def fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide"


@pytest.fixture
def german_page(new_phone) -> Page:
    return new_phone(locale="de-DE").new_page()


class PageLoads:
    """Counts the documents the phone loads in its main frame."""

    def __init__(self, page: Page) -> None:
        self.count = 0
        self.urls: list[str] = []
        page.on("load", self._loaded)

    def _loaded(self, page: Page) -> None:
        self.count += 1
        self.urls.append(page.url)


def test_a_location_with_five_desks_a_room_and_a_door_in_four_page_loads(
    german_page, create_user, db
):
    page = german_page
    create_user("anke@example.org", role="operator", name="Anke")
    log_in(page, "anke@example.org")
    page.goto("/manage/")
    loads = PageLoads(page)

    page.get_by_role("link", name="Neuer Standort").tap()  # 1
    form = page.locator("main form.stack").first
    form.locator("input[name=name]").fill("Alte Schule Wörlitz")
    form.locator("input[name=address]").fill("Schulstraße 1, 06785 Wörlitz")
    form.locator("input[name=lat]").fill("51,8431")
    form.locator("input[name=lon]").fill("12,4175")
    form.locator("input[name=hours_tue]").fill("9-13 Uhr")
    form.locator("input[name=desks]").fill("5")
    form.locator("input[name=desk_price_day]").fill("12,50")
    form.locator("input[name=rooms]").fill("1")
    form.locator("input[name=room_capacity]").fill("8")
    shot(page, "location-new")
    fits_the_phone(page)
    form.get_by_role("button", name="Standort anlegen").tap()  # 2

    expect(flash(page, "success")).to_contain_text(
        "Standort angelegt: 5 Arbeitsplätze, 1 Besprechungsraum."
    )
    location = db.scalar(select(Location).where(Location.name == "Alte Schule Wörlitz"))
    assert location is not None
    assert location.slug == "alte-schule-woerlitz"
    assert (location.lat, location.lon) == (51.8431, 12.4175)
    assert location.opening_hours["tue"] == [["09:00", "13:00"]]
    assert location.opening_hours["mon"] == [["08:00", "18:00"]]
    names = [r.name for r in location.resources]
    assert names == [f"Arbeitsplatz {n}" for n in range(1, 6)] + ["Besprechungsraum 1"]
    assert [r.price_day_cents for r in location.resources][:5] == [1250] * 5
    assert location.resources[-1].capacity == 8
    expect(page.locator("ul.resources li.resource")).to_have_count(6)
    shot(page, "location-edit")
    fits_the_phone(page)

    page.get_by_role("link", name="Tür hinzufügen").tap()  # 3
    door_form = page.locator("form[action$='/doors']")
    door_form.locator("input[name=name]").fill("Eingang")
    door_form.locator("button[type=submit]").tap()  # 4
    expect(page.locator("main")).to_contain_text("Eingang")
    db.rollback()
    assert db.scalar(select(Door.name).where(Door.location_id == location.id)) == (
        "Eingang"
    )
    print("page loads:", loads.count, loads.urls)
    assert loads.count <= 4, loads.urls


def test_all_errors_at_once_naming_the_weekday(german_page, create_user, db):
    page = german_page
    create_user("anke@example.org", role="operator")
    create_user("other@example.org", role="operator")
    log_in(page, "anke@example.org")
    page.goto("/manage/locations/new")
    form = page.locator("main form.stack").first
    form.locator("input[name=lat]").fill("91,5")
    form.locator("input[name=lon]").fill("zwölf")
    form.locator("input[name=hours_tue]").fill("9 bis")
    form.locator("input[name=hours_fri]").fill("18-9")
    form.locator("input[name=desks]").fill("500")
    form.get_by_role("button", name="Standort anlegen").tap()
    summary = page.locator("main div.flash.error")
    expect(summary).to_be_visible()
    for text in ("Dienstag:", "Freitag:", "zwischen -90 und 90", "Zahl"):
        expect(summary).to_contain_text(text)
    expect(page.locator("p.field-error")).to_have_count(7)  # name, address too
    # What was typed stays.
    expect(form.locator("input[name=hours_tue]")).to_have_value("9 bis")
    shot(page, "location-new-errors")
    fits_the_phone(page)
    assert db.scalar(select(Location.id)) is None


def test_closing_a_booked_day_shows_and_cancels_its_bookings(
    german_page, create_user, create_location, create_resource, db
):
    page = german_page
    operator = create_user("anke@example.org", role="operator")
    location = create_location(operator, name="Alte Schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    other = create_resource(location, "desk", "Ecke")
    day = booking_day()
    jana = create_user("jana@example.org", name="Jana Richter")
    tom = create_user("tom@example.org", name="Tom Berg")
    first = create_booking(db, jana, BookingRequest(desk.id, on=day))
    second = create_booking(db, tom, BookingRequest(other.id, on=day, part="am"))
    later = create_booking(db, tom, BookingRequest(other.id, on=day + timedelta(7)))

    log_in(page, "anke@example.org")
    # From the day view: the closure form opens with that day filled in.
    page.goto(f"/manage/locations/{location.id}/day?date={day.isoformat()}")
    page.get_by_role("link", name="Diesen Tag schließen …").tap()
    closing = page.locator("form[action$='/closures']")
    expect(closing.locator("input[name=starts_on]")).to_have_value(day.isoformat())
    closing.locator("input[name=reason]").fill("Wasserschaden")
    closing.get_by_role("button", name="Schließzeit eintragen").tap()

    affected = page.locator("#affected li")
    expect(affected).to_have_count(2)
    expect(affected.nth(0)).to_contain_text("Jana Richter")
    expect(affected.nth(1)).to_contain_text("Tom Berg")
    expect(page.locator("main")).to_contain_text("2 Buchungen fallen auf diesen Tag.")
    shot(page, "closure-confirm")
    fits_the_phone(page)
    # The confirm button does not touch the last affected booking.
    last = affected.nth(1).bounding_box()
    button = page.get_by_role("button", name="Schließen und 2 Buchungen stornieren")
    assert button.bounding_box()["y"] - (last["y"] + last["height"]) >= 8
    db.rollback()
    assert db.get(Booking, first.id).status == "confirmed"  # nothing yet

    page.get_by_role("button", name="Schließen und 2 Buchungen stornieren").tap()
    expect(flash(page, "success")).to_contain_text("2 Buchungen wurden storniert")
    db.rollback()
    db.expire_all()
    assert db.get(Booking, first.id).status == "cancelled"
    assert db.get(Booking, second.id).status == "cancelled"
    assert db.get(Booking, later.id).status == "confirmed"

    page.goto(f"/manage/locations/{location.id}/day?date={day.isoformat()}")
    expect(page.locator(".closed-day")).to_contain_text("Geschlossen: Wasserschaden")
    expect(page.locator("li.booking.cancelled")).to_have_count(2)
    expect(page.get_by_role("button", name="Buchen")).to_have_count(0)
    expect(page.get_by_role("link", name="Diesen Tag schließen …")).to_have_count(0)
    shot(page, "day-closed")
    fits_the_phone(page)


def test_a_refused_closure_shows_its_error_at_the_form_and_keeps_the_days(
    german_page, create_user, create_location, db
):
    page = german_page
    operator = create_user("anke@example.org", role="operator")
    location = create_location(operator, name="Alte Schule")
    day = booking_day()
    log_in(page, "anke@example.org")
    page.goto(f"/manage/locations/{location.id}")
    closing = page.locator("form[action$='/closures']")
    closing.locator("input[name=starts_on]").fill((day + timedelta(2)).isoformat())
    closing.locator("input[name=ends_on]").fill(day.isoformat())
    closing.locator("input[name=reason]").fill("Urlaub")
    closing.get_by_role("button", name="Schließzeit eintragen").tap()

    # The error sits by the closure form (not 3000 px above it) and is in view.
    error = page.locator("#closures ~ p.flash.error")
    expect(error).to_contain_text("Der letzte Tag darf nicht vor dem ersten liegen.")
    expect(error).to_be_in_viewport()
    expect(page.locator(".flash.error")).to_have_count(1)  # not also at the top
    expect(closing.locator("input[name=starts_on]")).to_have_value(
        (day + timedelta(2)).isoformat()
    )
    expect(closing.locator("input[name=ends_on]")).to_have_value(day.isoformat())
    expect(closing.locator("input[name=reason]")).to_have_value("Urlaub")
    shot(page, "closure-refused")
    fits_the_phone(page)


def test_the_day_view_checks_in_moves_by_day_and_offers_a_free_desk(
    german_page, create_user, create_location, create_resource, db
):
    page = german_page
    operator = create_user("anke@example.org", role="operator")
    location = create_location(operator, name="Alte Schule")
    taken = create_resource(location, "desk", "Fensterplatz")
    free = create_resource(location, "desk", "Ecke")
    create_resource(location, "desk", "Sofa")
    day = booking_day()
    jana = create_user("jana@example.org", name="Jana Richter")
    create_user("paul@example.org", name="Paul")
    booking = create_booking(db, jana, BookingRequest(taken.id, on=day))
    booking.checked_in_at = datetime.now(UTC).replace(hour=8, minute=5)
    db.commit()

    log_in(page, "anke@example.org")
    page.goto(f"/manage/locations/{location.id}/day?date={day.isoformat()}")
    row = page.locator("li.booking")
    expect(row).to_contain_text("Jana Richter")
    expect(row).to_contain_text("eingecheckt um")
    expect(page.locator("main")).to_contain_text("1 von 1 eingecheckt")
    select_desk = page.locator("select[name=resource_id]")
    expect(select_desk).to_have_value(str(free.id))
    expect(select_desk.locator(f"option[value='{taken.id}']")).to_be_disabled()
    shot(page, "day")
    fits_the_phone(page)

    page.locator("input[name=member_email]").fill("paul@example.org")
    page.get_by_role("button", name="Buchen").tap()
    expect(flash(page, "success")).to_contain_text("Ecke")
    expect(page.locator("li.booking")).to_have_count(2)

    # A guest without an account: the next free desk is offered.
    expect(select_desk).to_have_value(
        str(db.scalar(select(Resource.id).where(Resource.name == "Sofa")))
    )
    page.get_by_text("Für einen Gast ohne Konto").tap()
    page.locator("input[name=guest_name]").fill("Gisela Gast")
    page.locator("input[name=guest_email]").fill("gisela@example.org")
    page.get_by_role("button", name="Buchen").tap()
    expect(flash(page, "success")).to_contain_text("Gisela Gast")
    expect(page.locator("li.booking", has_text="Gast: Gisela Gast")).to_contain_text(
        "Sofa"
    )

    # Asks once before cancelling, then comes back to the day.
    page.locator("li.booking", has_text="Jana Richter").get_by_role(
        "link", name="Stornieren …"
    ).tap()
    confirm = page.get_by_role("button", name="Ja, stornieren")
    expect(confirm).to_be_visible()
    shot(page, "day-cancel-step")
    confirm.tap()
    expect(page).to_have_url(
        url_path(f"/manage/locations/{location.id}/day?date={day.isoformat()}")
    )
    expect(flash(page, "success")).to_be_visible()
    db.rollback()
    db.expire_all()
    assert db.get(Booking, booking.id).status == "cancelled"

    page.locator("a[rel=next]").tap()
    expect(page).to_have_url(re.compile(rf"date={day + timedelta(days=1)}"))
    page.locator("a[rel=prev]").tap()
    page.locator("a[rel=prev]").tap()
    expect(page).to_have_url(re.compile(rf"date={day - timedelta(days=1)}"))
    db.rollback()
    assert db.scalar(select(Resource.id).where(Resource.name == "Ecke")) == free.id
