"""Offline PINs on the controller's keypad: window, throttling, offline queue."""

from __future__ import annotations

import json
import time

from devices import pins


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_pin_inside_window_opens_and_reports_window(
    broker, server, make_door, make_controller
):
    door = make_door(broker)
    controller = make_controller(broker, door)
    now = time.time()
    pin = pins.offline_pin(door.secret, door.id, now - 600, now + 3600, index=0)

    result = controller.enter_pin(pin)

    assert result.accepted
    assert controller.relay.wait_for_pulse(1)
    accepted = server.wait_event(door, "pin_accepted")
    assert accepted.window == result.window
    assert accepted.window[0] <= now < accepted.window[1]
    opened = server.wait_event(door, "opened")
    assert opened.window == result.window and opened.cmd is None


def test_pin_outside_window_is_refused_without_counting_as_guess(
    broker, server, make_door, make_controller
):
    door = make_door(broker)
    controller = make_controller(broker, door)
    tomorrow = time.time() + 86400
    pin = pins.offline_pin(door.secret, door.id, tomorrow, tomorrow + 3600, index=0)

    for _ in range(4):
        result = controller.enter_pin(pin)
        assert not result.accepted and result.reason == "outside_window"

    refused = server.wait_event(door, "pin_refused")
    assert refused.reason == "outside_window" and refused.window == result.window
    assert controller.relay.pulses == []
    assert controller.store.pin["failures"] == 0


def test_wrong_pins_are_throttled_with_doubling_lockouts(
    broker, server, make_door, make_controller
):
    door = make_door(broker)
    clock = FakeClock(time.time())
    controller = make_controller(broker, door, clock=clock)
    start = clock.now // 1800 * 1800
    good = pins.offline_pin(door.secret, door.id, start, start + 86400, index=0)
    wrong = good[:7] + f"{(int(good[7:]) + 1) % 100000:05d}"

    assert controller.enter_pin(wrong).reason == "wrong"
    assert controller.enter_pin("123").reason == "malformed"
    third = controller.enter_pin(wrong)
    assert third.reason == "locked_out" and third.new_lockout
    assert third.locked_until == clock.now + 30
    locked = server.wait_event(door, "pin_locked_out")
    assert locked.reason

    # Even the right PIN is refused during the lock-out.
    assert controller.enter_pin(good).reason == "locked_out"
    assert controller.relay.pulses == []

    clock.now += 31
    assert controller.enter_pin(good).accepted

    for _ in range(3):
        result = controller.enter_pin(wrong)
    assert result.locked_until == clock.now + 60  # doubled

    # The lock-out survives a restart of the controller.
    controller.stop()
    again = make_controller(broker, door, clock=clock)
    assert again.enter_pin(good).reason == "locked_out"

    # An hour without wrong entries resets the doubling.
    clock.now += 3601
    for _ in range(3):
        result = again.enter_pin(wrong)
    assert result.locked_until == clock.now + 30


def test_lockout_is_capped_at_15_minutes(broker, make_door, make_controller):
    door = make_door(broker)
    clock = FakeClock(time.time())
    controller = make_controller(broker, door, clock=clock, connect=False)
    lockouts = []
    for _ in range(8):
        for _ in range(3):
            result = controller.enter_pin("0000000000")
        lockouts.append(result.locked_until - clock.now)
        clock.now = result.locked_until
    assert lockouts == [30, 60, 120, 240, 480, 900, 900, 900]


def test_pin_works_while_broker_is_down_and_event_follows_later(
    private_broker, make_probe, make_door, make_controller
):
    door = make_door(private_broker)
    server = make_probe(private_broker)
    controller = make_controller(private_broker, door)
    private_broker.stop()
    assert _wait_disconnected(controller)

    now = time.time()
    pin = pins.offline_pin(door.secret, door.id, now - 60, now + 1800, index=0)
    assert controller.enter_pin(pin).accepted
    assert controller.relay.wait_for_pulse(1)
    queued = json.loads(controller.store.path.read_text())["queue"]
    assert [e["type"] for e in queued][:2] == ["pin_accepted", "opened"]
    assert all(e["offline"] for e in queued)

    private_broker.start()
    event = server.wait_event(door, "pin_accepted", timeout=15)
    assert event.offline is True
    assert event.window[0] <= now < event.window[1]
    assert server.wait_event(door, "opened", offline=True)
    deadline = time.time() + 5
    while controller.store.queue and time.time() < deadline:
        time.sleep(0.05)
    assert controller.store.queue == []


def _wait_disconnected(controller, timeout: float = 5.0) -> bool:
    deadline = time.time() + timeout
    while controller.connected.is_set() and time.time() < deadline:
        time.sleep(0.02)
    return not controller.connected.is_set()


def test_pin_works_with_no_broker_ever(private_broker, make_door, make_controller):
    """A controller that never reached its broker still opens for a valid PIN."""
    door = make_door(private_broker)
    private_broker.stop()
    controller = make_controller(private_broker, door, connect=False)
    now = time.time()
    pin = pins.offline_pin(door.secret, door.id, now, now + 1800, index=0)
    assert controller.enter_pin(pin).accepted
    assert controller.relay.wait_for_pulse(1)
    assert controller.store.queue[0]["offline"] is True
