"""The pages fit a small phone, have fingertip-sized targets and stay light."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Request, expect
from sqlalchemy import func, select

from booking.auth.models import User
from booking.bookings.models import ACTIVE_STATUSES, Booking, DayPart
from booking.bookings.services import BookingRequest, create_booking
from booking.demo import create_demo
from booking.spaces.models import Location, Resource
from tests.browser.pages import PASSWORD, booking_day, log_in

pytestmark = pytest.mark.browser

SMALL_PHONE = 360  # CSS pixels: the narrowest common Android phones
MIN_TAP_PX = 44  # Apple HIG / WCAG 2.5.5 target size
MAX_PAGE_BYTES = 100_000  # a location page on a weak rural connection

OVERFLOW_JS = """() => {
  const root = document.scrollingElement;
  const width = root.clientWidth;
  const culprits = [...document.body.querySelectorAll('*')]
    .filter(el => el.getBoundingClientRect().right > width + 0.5)
    .slice(0, 5)
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
  return {scrollWidth: root.scrollWidth, clientWidth: width, culprits};
}"""


@pytest.fixture
def demo(db):
    """The demo network, with bookings so that lists and days are not empty.

    The demo books days ahead itself (and renames its desks), so the extra
    bookings go to resources found free by query, and to people not yet
    booked that day, never to resources named here.
    """
    create_demo(db, password=PASSWORD)
    day = booking_day()
    users = {u.email.split("@")[0]: u for u in db.scalars(select(User))}
    locations = {loc.slug: loc for loc in db.scalars(select(Location))}
    room_start = datetime.combine(day, time(10), ZoneInfo("Europe/Berlin"))
    wanted = [
        ("jana", "eilenburg", "desk", {"on": day}),
        ("tom", "eilenburg", "desk", {"on": day, "part": DayPart.AM}),
        (
            "admin",
            "eilenburg",
            "room",
            {
                "part": DayPart.HOURS,
                "starts_at": room_start,
                "ends_at": room_start + timedelta(minutes=90),
            },
        ),
        ("jana", "thallwitz", "desk", {"on": day + timedelta(days=1)}),
    ]
    for user, slug, kind, request in wanted:
        on = request.get("on", day)
        if _booked_on(db, users[user], on):
            continue  # the demo booked this person that day already
        resource = _free_resource(db, locations[slug], kind, on)
        create_booking(db, users[user], BookingRequest(resource.id, **request))
    location = locations["eilenburg"]
    booked = db.scalar(
        select(func.count(Booking.id)).where(
            Booking.location_id == location.id,
            Booking.booked_on == day,
            Booking.status.in_(ACTIVE_STATUSES),
        )
    )
    assert booked >= 2, "the day view needs bookings to show"
    return {"day": day, "location": location}


def _booked_on(db, user: User, on: date) -> bool:
    return (
        db.scalar(
            select(Booking.id).where(
                Booking.user_id == user.id,
                Booking.guest_email.is_(None),
                Booking.booked_on == on,
                Booking.status.in_(ACTIVE_STATUSES),
            )
        )
        is not None
    )


def _free_resource(db, location: Location, kind: str, on: date) -> Resource:
    """A resource of this kind nobody has booked that day, free of charge if
    there is one (a desk with a day price would wait for its payment)."""
    taken = select(Booking.resource_id).where(
        Booking.booked_on == on, Booking.status.in_(ACTIVE_STATUSES)
    )
    resource = db.scalar(
        select(Resource)
        .where(
            Resource.location_id == location.id,
            Resource.kind == kind,
            Resource.id.not_in(taken),
        )
        .order_by(Resource.price_day_cents, Resource.price_hour_cents, Resource.id)
        .limit(1)
    )
    assert resource is not None, f"no free {kind} at {location.slug} on {on}"
    return resource


def overflow(page: Page) -> dict | None:
    result = page.evaluate(OVERFLOW_JS)
    return None if result["scrollWidth"] <= result["clientWidth"] else result


def test_no_horizontal_scrolling_at_360_px(new_phone, demo):
    day, location = demo["day"].isoformat(), demo["location"]
    pages = {
        "guest": ["/", "/login", "/register", f"/l/eilenburg?date={day}"],
        "jana@example.org": ["/", f"/l/eilenburg?date={day}", "/bookings"],
        "betrieb@example.org": [
            "/manage/",
            f"/manage/locations/{location.id}",
            f"/manage/locations/{location.id}/day?date={day}",
        ],
    }
    problems = {}
    for who, paths in pages.items():
        page = new_phone(width=SMALL_PHONE, locale="de-DE").new_page()
        if who != "guest":
            log_in(page, who)
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.ok, path
            if found := overflow(page):
                problems[f"{who} {path}"] = found
    assert problems == {}


def test_tap_targets_are_at_least_44_px_high(new_phone, demo):
    day, location = demo["day"].isoformat(), demo["location"]
    page = new_phone(width=SMALL_PHONE, locale="de-DE").new_page()
    log_in(page, "betrieb@example.org")
    checks = {
        f"/l/eilenburg?date={day}": [
            "button.book",
            "li.resource select",
            "nav.days a",
            "nav.days button",
            "header nav a",
            "header nav button",
        ],
        f"/manage/locations/{location.id}/day?date={day}": [
            "li.booking a.button",
            "nav.day-nav a",
            "main form button",
        ],
    }
    member = new_phone(width=SMALL_PHONE, locale="de-DE").new_page()
    log_in(member, "jana@example.org")
    member.goto("/bookings")
    too_small = _small_targets(member, ["li.booking button, li.booking a.button"])
    for path, selectors in checks.items():
        page.goto(path)
        too_small += _small_targets(page, selectors)
    assert too_small == []


def _small_targets(page: Page, selectors: list[str]) -> list[str]:
    small = []
    for selector in selectors:
        targets = page.locator(selector)
        assert targets.count() > 0, f"nothing matches {selector} on {page.url}"
        for i in range(targets.count()):
            box = targets.nth(i).bounding_box()
            assert box is not None, f"{selector} #{i} is not visible on {page.url}"
            if box["height"] < MIN_TAP_PX:
                small.append(f"{page.url} {selector} #{i}: {box['height']:.0f}px")
    return small


def test_location_page_transfers_under_100_kb(new_phone, demo):
    login = new_phone().new_page()
    log_in(login, "jana@example.org")
    # A logged-in member with an empty cache: the first visit on a new phone.
    page = new_phone(storage_state=login.context.storage_state()).new_page()
    finished: list[Request] = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.goto(f"/l/eilenburg?date={demo['day'].isoformat()}")
    page.wait_for_load_state("load")
    expect(page.locator("header nav form[action='/logout']")).to_be_attached()

    # No fonts or images in the page; the one script installs the offline
    # service worker, and the browser may fetch the tab icon (half a KB).
    kinds = sorted(
        request.resource_type
        for request in finished
        if not request.url.endswith("/static/icon-192.png")
    )
    assert kinds == ["document", "script", "stylesheet"]
    total = 0
    for request in finished:
        response = request.response()
        assert response is not None and response.status == 200, request.url
        sizes = request.sizes()
        # The server sends no compression: on the wire the body is as long.
        assert sizes["responseBodySize"] == len(response.body())
        total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
    assert 10_000 < total < MAX_PAGE_BYTES
