"""Relay drivers: every pulse ends by the driver's own timer."""

from __future__ import annotations

import sys
import time
import types

import pytest

from devices.base import LockAdapter
from devices.relays import GpioRelay, SimulatedRelay, make_relay


def test_simulated_relay_pulse_switches_off_by_itself():
    changes: list[bool] = []
    relay = SimulatedRelay(on_change=changes.append)
    assert isinstance(relay, LockAdapter)
    relay.unlock(seconds=0.2)
    assert relay.is_on and relay.state().unlocked
    assert relay.wait_for_off(2)
    assert changes == [True, False]
    assert [p.seconds for p in relay.pulses] == [0.2]


def test_new_pulse_extends_and_old_timer_does_not_cut_it():
    relay = SimulatedRelay()
    relay.unlock(seconds=0.3)
    time.sleep(0.2)
    relay.unlock(seconds=0.4)  # the first timer would fire at 0.3 s
    time.sleep(0.2)
    assert relay.is_on
    assert relay.wait_for_off(2)


def test_pulse_is_capped_and_lock_ends_it():
    relay = SimulatedRelay(max_pulse_s=0.5)
    relay.unlock(seconds=30)
    assert relay.pulses[-1].seconds == 0.5
    relay.lock()
    assert not relay.is_on
    with pytest.raises(ValueError):
        relay.unlock(seconds=0)


def test_gpio_relay_drives_gpiozero_and_starts_inactive(monkeypatch):
    calls: list[object] = []

    class OutputDevice:
        def __init__(self, pin, active_high, initial_value):
            calls.append(("init", pin, active_high, initial_value))

        def on(self):
            calls.append("on")

        def off(self):
            calls.append("off")

        def close(self):
            calls.append("close")

    monkeypatch.setitem(
        sys.modules, "gpiozero", types.SimpleNamespace(OutputDevice=OutputDevice)
    )
    relay = make_relay("gpio", pin=17, active_high=False)
    assert isinstance(relay, GpioRelay)
    relay.unlock(seconds=0.1)
    time.sleep(0.3)
    relay.close()
    assert calls[0] == ("init", 17, False, False)
    assert calls[1:3] == ["on", "off"]
    assert calls[-1] == "close"


def test_gpio_relay_without_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiozero", None)
    monkeypatch.setitem(sys.modules, "RPi", None)
    from devices.messages import DeviceError

    with pytest.raises(DeviceError, match="gpiozero"):
        GpioRelay(17)
