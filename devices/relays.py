"""Relay drivers for a door strike: real GPIO and a simulated twin.

Both share ``TimedRelay``: ``unlock(seconds=...)`` switches the relay on and a
timer in the driver switches it off again, so the pulse ends even if nobody
calls ``lock()``. Use a fail-secure strike (locked without power) with free
mechanical egress from inside; see docs/protocol.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.base import LockState
from devices.messages import DeviceError

# Hard ceiling on one pulse regardless of what a caller asks for.
MAX_PULSE_S = 60.0


class TimedRelay:
    """A relay whose every pulse is time-limited by the driver itself."""

    def __init__(
        self,
        *,
        max_pulse_s: float = MAX_PULSE_S,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.max_pulse_s = max_pulse_s
        self.on_change = on_change
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._generation = 0
        self._on = False

    def _drive(self, on: bool) -> None:
        raise NotImplementedError

    def _switch(self, on: bool) -> None:
        changed = on != self._on
        self._drive(on)
        self._on = on
        if changed and self.on_change is not None:
            self.on_change(on)

    def unlock(self, *, seconds: float) -> None:
        """Switch on now and off after ``seconds`` (clamped to ``max_pulse_s``)."""
        if seconds <= 0:
            raise ValueError("pulse length must be positive")
        seconds = min(float(seconds), self.max_pulse_s)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._generation += 1
            generation = self._generation
            self._record_pulse(seconds)
            self._switch(True)
            self._timer = threading.Timer(seconds, self._expire, args=(generation,))
            self._timer.daemon = True
            self._timer.start()

    def _expire(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # a newer pulse extended the opening
            self._timer = None
            self._switch(False)

    def lock(self) -> None:
        """Switch off now (ends any running pulse)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._generation += 1
            self._switch(False)

    def state(self) -> LockState:
        return LockState(unlocked=self._on)

    def close(self) -> None:
        self.lock()

    def _record_pulse(self, seconds: float) -> None:
        """Hook for SimulatedRelay."""


@dataclass(frozen=True)
class Pulse:
    started_at: float
    seconds: float


class SimulatedRelay(TimedRelay):
    """Same behaviour as GpioRelay, without hardware: records every pulse.

    Tests and the demo observe ``pulses`` and ``is_on``, or block in
    ``wait_for_pulse``/``wait_for_off``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pulses: list[Pulse] = []
        self.transitions: list[tuple[float, bool]] = []
        self._changed = threading.Condition()

    def _drive(self, on: bool) -> None:
        with self._changed:
            self.transitions.append((time.time(), on))
            self._changed.notify_all()

    def _record_pulse(self, seconds: float) -> None:
        with self._changed:
            self.pulses.append(Pulse(time.time(), seconds))
            self._changed.notify_all()

    @property
    def is_on(self) -> bool:
        return self._on

    def wait_for_pulse(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` pulses happened; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.pulses) >= count, timeout)

    def wait_for_off(self, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._on, timeout)


class GpioRelay(TimedRelay):
    """A relay on a Raspberry Pi GPIO pin (gpiozero, else RPi.GPIO).

    The GPIO library is imported when the relay is created, so the rest of the
    package works on machines without one. The pin starts inactive.
    """

    def __init__(self, pin: int, active_high: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pin = pin
        self.active_high = active_high
        self._device: Any = None
        self._gpio: Any = None
        try:
            from gpiozero import OutputDevice  # type: ignore[import-not-found]

            self._device = OutputDevice(
                pin, active_high=active_high, initial_value=False
            )
        except ImportError:
            try:
                import RPi.GPIO as GPIO  # type: ignore[import-not-found]  # noqa: N814
            except ImportError:
                raise DeviceError(
                    "GpioRelay needs gpiozero or RPi.GPIO "
                    "(Debian/Raspberry Pi OS: apt-get install python3-gpiozero)"
                ) from None
            self._gpio = GPIO
            GPIO.setmode(GPIO.BCM)
            GPIO.setup(pin, GPIO.OUT, initial=self._level(False))

    def _level(self, on: bool) -> int:
        return int(on == self.active_high)

    def _drive(self, on: bool) -> None:
        if self._device is not None:
            if on:
                self._device.on()
            else:
                self._device.off()
        else:
            self._gpio.output(self.pin, self._level(on))

    def close(self) -> None:
        super().close()
        if self._device is not None:
            self._device.close()
        elif self._gpio is not None:
            self._gpio.cleanup(self.pin)


def make_relay(kind: str, **options: Any) -> TimedRelay:
    """``simulated`` or ``gpio`` (needs ``pin``, optional ``active_high``)."""
    if kind == "simulated":
        return SimulatedRelay(**options)
    if kind == "gpio":
        return GpioRelay(**options)
    raise ValueError(f"unknown relay kind {kind!r} (simulated, gpio)")
