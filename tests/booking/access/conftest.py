"""Door access against a real Mosquitto (the deploy ACL) and the reference
controller running in this process with a SimulatedRelay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.controller import Controller, ControllerConfig
from devices.relays import SimulatedRelay
from tests.support.doors import VENDOR_USERS, VendorDevice
from tests.support.mosquitto import DEPLOY_ACL, Broker, start_broker

SERVICE_PASSWORD = "service-pw"


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A private broker per test: retained door state never leaks between
    tests whose door ids repeat."""
    b = start_broker({"landdesk": SERVICE_PASSWORD, **VENDOR_USERS}, DEPLOY_ACL)
    yield b
    b.close()


@pytest.fixture
def access_config() -> dict:
    """Override in a module to change the door settings."""
    return {}


@pytest.fixture
def app_config(app_config, broker, access_config) -> dict:
    return {
        **app_config,
        "MQTT_URL": broker.url("landdesk"),
        "UNLOCK_TIMEOUT_S": 1.5,
        "UNLOCK_RATE_LIMIT": "1000/minute",
        **access_config,
    }


@pytest.fixture(autouse=True)
def _door_link(app) -> Iterator[None]:
    from booking.access.link import stop_link
    from booking.extensions import limiter

    limiter.reset()
    yield
    stop_link(app)


@pytest.fixture
def link(app):
    """This process's link, connected."""
    from booking.access.link import get_link

    door_link = get_link(app)
    assert door_link.connected.wait(5), "service did not connect to the broker"
    return door_link


@pytest.fixture
def operator(create_user):
    return create_user("op@example.org", role="operator", name="Olga Operator")


@pytest.fixture
def location(create_location, operator):
    return create_location(operator)


@pytest.fixture
def desk(create_resource, location):
    return create_resource(location, "desk", "Desk 1")


@pytest.fixture
def member(create_user):
    return create_user("mia@example.org", name="Mia Member")


@pytest.fixture
def make_door(db, operator, location):
    from booking.access.services import create_door

    def make(kind: str = "landdesk", name: str = "Entrance", **values: Any):
        return create_door(
            db, operator, location.id, {"name": name, "kind": kind, **values}
        )

    return make


@pytest.fixture
def door(make_door):
    """(door, secret) of a Landdesk controller door serving the location."""
    return make_door()


@pytest.fixture
def add_booking(db, desk):
    """A confirmed booking written directly (the booking rules are tested
    elsewhere; here only its window matters)."""
    from booking.bookings.models import Booking

    def make(user, starts_at: datetime, ends_at: datetime, **values: Any):
        booking = Booking(
            user_id=user.id,
            resource_id=values.pop("resource_id", desk.id),
            location_id=desk.location_id,
            seat=0,
            starts_at=starts_at,
            ends_at=ends_at,
            booked_on=starts_at.date(),
            part="hours",
            status=values.pop("status", "confirmed"),
            **values,
        )
        db.add(booking)
        db.commit()
        return booking

    return make


@pytest.fixture
def booking_now(add_booking, member):
    now = datetime.now(UTC)
    return add_booking(member, now - timedelta(hours=1), now + timedelta(hours=2))


@pytest.fixture
def make_controller(broker, tmp_path) -> Iterator[Callable[..., Controller]]:
    controllers: list[Controller] = []

    def make(
        door, secret: str, *, connect: bool = True, **overrides: Any
    ) -> Controller:
        password = f"door-pw-{door.id}"
        broker.add_user(str(door.id), password)
        values: dict[str, Any] = {
            "door_id": str(door.id),
            "secret": secret,
            "mqtt_url": f"mqtt://{door.id}:{password}@{broker.host}:{broker.port}",
            "open_s": 1,
            "max_open_s": 2,
            "keepalive": 5,
            "session_expiry_s": 60,
            "state_file": str(tmp_path / f"door-{door.id}.json"),
            **overrides,
        }
        controller = Controller(ControllerConfig(**values), relay=SimulatedRelay())
        controllers.append(controller)
        controller.start()
        if connect:
            assert controller.wait_connected(5), "controller did not connect"
        return controller

    yield make
    for controller in controllers:
        controller.stop()


@pytest.fixture
def vendor_device(broker) -> Iterator[Callable[..., VendorDevice]]:
    devices: list[VendorDevice] = []

    def make(kind: str, **kw: Any) -> VendorDevice:
        device = VendorDevice(broker, kind, **kw)
        devices.append(device)
        return device

    yield make
    for device in devices:
        device.close()


@pytest.fixture
def keypad_path(tmp_path) -> Path:
    return tmp_path / "keypad"
