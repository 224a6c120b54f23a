"""The site as an installable phone app: manifest, icons, and My bookings with
the door PIN readable with the network cut (issue 17.7)."""

from __future__ import annotations

import re
import struct

import pytest
from playwright.sync_api import expect

from tests.browser.pages import booking_day, log_in, log_out

pytestmark = pytest.mark.browser

PAGE_BUDGET = 100 * 1024  # a phone page with its stylesheet and script


@pytest.fixture
def site(db, create_user, create_location, create_resource):
    from booking.access.services import create_door
    from booking.bookings.services import BookingRequest, create_booking

    operator = create_user("op@example.org", role="operator")
    location = create_location(operator, name="Alte Schule", slug="alte-schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    create_door(db, operator, location.id, {"name": "Haustür", "kind": "landdesk"})
    member = create_user("mia@example.org", name="Mia")
    booking = create_booking(db, member, BookingRequest(desk.id, on=booking_day()))
    db.commit()
    return {"booking": booking}


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", body[16:24])


def test_every_page_links_the_manifest_and_its_icons_exist(new_phone, site):
    page = new_phone(locale="de-DE").new_page()
    for path in ("/", "/l/alte-schule", "/login", "/register", "/privacy"):
        page.goto(path)
        expect(page.locator('link[rel="manifest"]')).to_have_attribute(
            "href", "/manifest.webmanifest"
        )
    manifest = page.request.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    data = manifest.json()
    assert data["display"] == "standalone" and data["start_url"] == "/bookings"
    assert data["name"] and data["short_name"] and data["lang"]
    sizes = {}
    for icon in data["icons"]:
        body = page.request.get(icon["src"]).body()
        assert len(body) < 20_000  # flat colours: tiny
        sizes[icon["sizes"]] = png_size(body)
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}
    worker = page.request.get("/sw.js")
    assert "javascript" in worker.headers["content-type"]


def test_my_bookings_with_the_pin_stays_readable_offline(new_phone, site):
    context = new_phone(locale="de-DE")
    page = context.new_page()
    log_in(page, "mia@example.org")
    page.goto("/bookings")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.goto("/bookings")  # fetched through the worker, which keeps a copy
    row = page.locator(f"#b{site['booking'].id}")
    pin = row.locator(".pin").inner_text()
    assert re.fullmatch(r"\d{3} \d{2} \d{2} \d+", pin)
    expect(page.locator(".offline-note")).to_be_hidden()

    context.set_offline(True)
    page.goto("/bookings")
    row = page.locator(f"#b{site['booking'].id}")
    expect(row).to_contain_text("Fensterplatz")
    expect(row.locator(".pin")).to_have_text(pin)
    expect(page.locator(".offline-note")).to_be_visible()
    expect(page.locator(".offline-note")).to_contain_text("Keine Verbindung")
    page.goto("/l/alte-schule")
    expect(page.locator("h1")).to_have_text("Keine Verbindung")

    # After logging out the phone keeps nothing of the member's.
    context.set_offline(False)
    page.goto("/bookings")
    log_out(page)
    context.set_offline(True)
    page.goto("/bookings")
    expect(page.locator("h1")).to_have_text("Keine Verbindung")
    expect(page.locator("body")).not_to_contain_text("Fensterplatz")


def test_phone_pages_stay_small(new_phone, site):
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "mia@example.org")
    extras = sum(
        len(page.request.get(path).body())
        for path in ("/static/app.css", "/static/register-sw.js")
    )
    for path in ("/", "/l/alte-schule", "/bookings", "/account/"):
        size = len(page.request.get(path).body()) + extras
        assert size < PAGE_BUDGET, (path, size)
