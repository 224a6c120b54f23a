"""Per-booking offline PINs and their revocation on the reference controller,
against Mosquitto: two bookings never share a PIN; cancelling, a suspension or
a closure withdraws a PIN on an online controller within seconds, on an
offline one when it reconnects, and the controller keeps it across a restart."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from booking.access.models import DoorPin
from booking.access.pins import RevocationSweeper
from devices.pins import check_pin
from tests.support.doors import fresh, wait_until


def pin_of(api, user, booking) -> str:
    (item,) = api(user).get(f"/api/v1/bookings/{booking.id}/doors").get_json()
    assert item["pin"] is not None
    return item["pin"]


def refused_as_revoked(controller, pin: str) -> bool:
    result = controller.enter_pin(pin)
    return not result.accepted and result.reason == "revoked"


def test_bookings_of_one_door_and_window_get_their_own_pins(
    api, create_user, member, door, add_booking, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    others = [create_user(f"m{i}@example.org") for i in range(3)]
    bookings = [add_booking(u, start, end) for u in [member, *others]]
    pins = [pin_of(api, b.user, b) for b in bookings]
    assert len(set(pins)) == 4, pins
    # Shown again, a booking keeps its PIN.
    assert pin_of(api, member, bookings[0]) == pins[0]
    # Each opens the door and names its own booking.
    for pin in pins:
        assert check_pin(secret, str(door_row.id), pin, time.time())
        assert controller.enter_pin(pin).accepted
    fresh(db)
    keys = db.query(DoorPin).order_by(DoorPin.pin_index).all()
    assert [k.booking_id for k in keys] == [b.id for b in bookings]


def test_cancelling_revokes_the_pin_on_an_online_controller_within_seconds(
    api, member, create_user, door, add_booking, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    mine = add_booking(member, start, end)
    other_user = create_user("olaf@example.org")
    other = add_booking(other_user, start, end)
    pin, other_pin = pin_of(api, member, mine), pin_of(api, other_user, other)
    assert controller.enter_pin(pin).accepted

    response = api(member).delete(f"/api/v1/bookings/{mine.id}")
    assert response.status_code == 200
    started = time.monotonic()
    assert wait_until(lambda: refused_as_revoked(controller, pin), 5)
    assert time.monotonic() - started < 5
    # The other booking with the same window still opens; a revoked PIN is
    # not a guess (no lock-out).
    assert controller.enter_pin(other_pin).accepted
    assert controller.store.pin["failures"] == 0
    # The controller persisted it: a restart (no broker at all) still refuses.
    controller.stop()
    offline = make_controller(
        door_row, secret, connect=False, mqtt_url="mqtt://x:y@127.0.0.1:9"
    )
    assert refused_as_revoked(offline, pin)
    assert offline.enter_pin(other_pin).accepted


def test_an_offline_controller_learns_the_revocation_when_it_reconnects(
    api, member, door, booking_now, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    pin = pin_of(api, member, booking_now)
    controller.stop()  # offline while the booking is cancelled
    assert api(member).delete(f"/api/v1/bookings/{booking_now.id}").status_code == 200
    time.sleep(0.3)
    again = make_controller(door_row, secret)
    assert wait_until(lambda: refused_as_revoked(again, pin), 5)


def test_a_new_controller_gets_the_retained_list(
    api, member, door, booking_now, make_controller, link, db, tmp_path
):
    door_row, secret = door
    pin = pin_of(api, member, booking_now)
    assert api(member).delete(f"/api/v1/bookings/{booking_now.id}").status_code == 200
    # A replacement controller with an empty state file (and a new session).
    fresh_controller = make_controller(
        door_row, secret, state_file=str(tmp_path / "new.json")
    )
    assert wait_until(lambda: refused_as_revoked(fresh_controller, pin), 5)


def test_suspension_revokes_the_pin_through_the_sweep(
    app, api, db, member, door, booking_now, make_controller, link
):
    from booking.passes.models import Pass, Plan

    door_row, secret = door
    controller = make_controller(door_row, secret)
    pin = pin_of(api, member, booking_now)
    sweeper = RevocationSweeper(app)
    sweeper.run_once(db)
    assert controller.enter_pin(pin).accepted  # nothing to withdraw yet
    plan = Plan(name="Monthly", kind="membership", price_cents=9900, currency="EUR")
    db.add(plan)
    db.flush()
    db.add(
        Pass(
            plan_id=plan.id,
            kind="membership",
            user_id=member.id,
            status="past_due",
            valid_from=date.today() - timedelta(days=40),
            past_due_since=datetime.now(UTC) - timedelta(days=20),
            grace_until=datetime.now(UTC) - timedelta(days=10),
        )
    )
    db.commit()
    sweeper.run_once(db)
    assert wait_until(lambda: refused_as_revoked(controller, pin), 5)
    fresh(db)
    assert db.query(DoorPin).one().revoked_reason == "suspended"


def test_closure_cancels_the_booking_and_revokes_its_pin(
    app, api, db, member, operator, location, door, booking_now, make_controller, link
):
    from booking.spaces.services import add_closure

    door_row, secret = door
    controller = make_controller(door_row, secret)
    pin = pin_of(api, member, booking_now)
    day = booking_now.booked_on
    closure = add_closure(db, operator, location.id, starts_on=day, ends_on=day)
    # Closing the day cancels its bookings; the cancellation withdraws the PIN.
    assert list(closure.cancelled_booking_ids) == [booking_now.id]
    RevocationSweeper(app).run_once(db)
    assert wait_until(lambda: refused_as_revoked(controller, pin), 5)
    fresh(db)
    assert db.query(DoorPin).one().revoked_reason == "cancelled"
    assert (
        api(member).get(f"/api/v1/bookings/{booking_now.id}").get_json()["status"]
        == "cancelled"
    )
