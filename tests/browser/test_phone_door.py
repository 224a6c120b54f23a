"""The door on a German phone: when it opens, the PIN, and the answer to a tap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from devices.controller import Controller, ControllerConfig
from devices.relays import SimulatedRelay
from tests.browser.pages import log_in
from tests.support.mosquitto import DEPLOY_ACL, Broker, start_broker

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def broker() -> Iterator[Broker]:
    b = start_broker({"landdesk": "service-pw"}, DEPLOY_ACL)
    yield b
    b.close()


@pytest.fixture
def app_config(app_config, broker) -> dict:
    return {
        **app_config,
        "MQTT_URL": broker.url("landdesk"),
        "UNLOCK_TIMEOUT_S": 3,
        "UNLOCK_RATE_LIMIT": "1000/minute",
    }


@pytest.fixture(autouse=True)
def _door_link(app) -> Iterator[None]:
    from booking.access.link import stop_link

    yield
    stop_link(app)


@pytest.fixture
def site(db, create_user, create_location, create_resource, broker, tmp_path):
    from booking.access.services import create_door
    from booking.bookings.models import Booking

    operator = create_user("op@example.org", role="operator")
    location = create_location(operator, name="Alte Schule", slug="alte-schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    door, secret = create_door(
        db, operator, location.id, {"name": "Haustür", "kind": "landdesk"}
    )
    member = create_user("mia@example.org", name="Mia")
    now = datetime.now(UTC)
    tomorrow = now.astimezone(BERLIN).date() + timedelta(days=1)
    later_start = datetime.combine(tomorrow, time(8), BERLIN).astimezone(UTC)
    bookings = {}
    for key, starts_at, ends_at in (
        ("now", now - timedelta(hours=1), now + timedelta(hours=2)),
        ("later", later_start, later_start + timedelta(hours=5)),
    ):
        booking = Booking(
            user_id=member.id,
            resource_id=desk.id,
            location_id=location.id,
            seat=0,
            starts_at=starts_at,
            ends_at=ends_at,
            booked_on=starts_at.astimezone(BERLIN).date(),
            part="hours",
            status="confirmed",
        )
        db.add(booking)
        db.commit()
        bookings[key] = booking
    broker.add_user(str(door.id), "door-pw")
    controller = Controller(
        ControllerConfig(
            door_id=str(door.id),
            secret=secret,
            mqtt_url=f"mqtt://{door.id}:door-pw@{broker.host}:{broker.port}",
            open_s=1,
            max_open_s=2,
            keepalive=5,
            session_expiry_s=60,
            state_file=str(tmp_path / "door.json"),
        ),
        relay=SimulatedRelay(),
    )
    controller.start()
    assert controller.wait_connected(5)
    yield {"door": door, "bookings": bookings, "controller": controller}
    controller.stop()


def test_door_says_when_it_opens_shows_the_pin_and_the_tap_answer(new_phone, site):
    page = new_phone(locale="de-DE").new_page()
    log_in(page, "mia@example.org")
    page.goto("/bookings")
    door_id = site["door"].id
    later = page.locator(f"#door-{door_id}-b{site['bookings']['later'].id}")
    # Before its window: no button, but when the door opens and the PIN.
    expect(later.get_by_role("button")).to_have_count(0)
    expect(later.locator(".door-opens")).to_have_text("öffnet ab 07:30")
    expect(later.locator(".pin")).to_have_text(re.compile(r"^\d{3} \d{2} \d{2} \d+$"))
    expect(later).to_contain_text("gültig")

    current = page.locator(f"#door-{door_id}-b{site['bookings']['now'].id}")
    current.get_by_role("button", name="Tür öffnen").tap()
    current = page.locator(f"#door-{door_id}-b{site['bookings']['now'].id}")
    result = current.locator(".door-result")
    expect(result).to_contain_text("Haustür")
    expect(result).to_be_in_viewport()
    page.wait_for_timeout(3000)  # no toast: the answer stays
    expect(result).to_be_visible()
    assert len(site["controller"].relay.pulses) == 1
