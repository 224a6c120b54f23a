"""The keypad: offline PIN throttling and a simulated keypad (stdin or FIFO)."""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.messages import PinRejected

log = logging.getLogger("landdesk.door")

# Keypad throttling: after PIN_FREE_ATTEMPTS wrong entries the keypad locks
# for 30 s, doubling with each further lock-out up to 15 min; the level decays
# after an hour without wrong entries.
PIN_FREE_ATTEMPTS = 3
PIN_LOCKOUT_BASE_S = 30
PIN_LOCKOUT_MAX_S = 15 * 60
PIN_LEVEL_RESET_S = 3600


@dataclass(frozen=True)
class PinResult:
    accepted: bool
    reason: str | None = None
    window: tuple[int, ...] | None = None
    locked_until: float | None = None
    new_lockout: bool = False


def locked_out(throttle: dict[str, float], now: float) -> PinResult | None:
    """The refusal while the keypad is locked; None if entries are checked.

    ``throttle`` is the state file's ``pin`` section (updated in place).
    """
    if now < throttle["locked_until"]:
        return PinResult(False, "locked_out", locked_until=throttle["locked_until"])
    if now - throttle.get("last_failure", 0) > PIN_LEVEL_RESET_S:
        throttle["level"] = 0
    return None


def pin_failure(throttle: dict[str, float], exc: PinRejected, now: float) -> PinResult:
    """Count a refused entry; a third wrong guess locks the keypad."""
    if exc.reason in ("outside_window", "revoked"):
        # A genuine PIN at the wrong time, or one the service withdrew, is
        # not a guess.
        return PinResult(False, exc.reason, window=exc.window)
    throttle["failures"] += 1
    throttle["last_failure"] = now
    if throttle["failures"] < PIN_FREE_ATTEMPTS:
        return PinResult(False, exc.reason)
    throttle["failures"] = 0
    throttle["level"] += 1
    lockout = min(PIN_LOCKOUT_BASE_S * 2 ** (throttle["level"] - 1), PIN_LOCKOUT_MAX_S)
    throttle["locked_until"] = now + lockout
    return PinResult(False, "locked_out", locked_until=now + lockout, new_lockout=True)


class KeypadReader(threading.Thread):
    """Reads PIN lines from stdin or a FIFO (a simulated keypad)."""

    def __init__(self, controller: Any, kind: str, path: str | None) -> None:
        super().__init__(name="landdesk-keypad", daemon=True)
        self.controller = controller
        self.kind = kind
        self.path = Path(path) if path else None
        self._stop = threading.Event()

    def run(self) -> None:
        if self.kind == "stdin":
            for line in sys.stdin:
                if self._stop.is_set():
                    return
                self._entry(line)
            return
        assert self.path is not None
        if not self.path.exists():
            os.mkfifo(self.path, 0o600)
        elif not stat.S_ISFIFO(self.path.stat().st_mode):
            log.error("keypad path %s is not a FIFO", self.path)
            return
        while not self._stop.is_set():
            with open(self.path) as fifo:  # blocks until a writer opens it
                for line in fifo:
                    if self._stop.is_set():
                        return
                    self._entry(line)

    def _entry(self, line: str) -> None:
        pin = line.strip()
        if not pin:
            return
        result = self.controller.enter_pin(pin)
        log.info("keypad entry: %s", "accepted" if result.accepted else result.reason)

    def stop(self) -> None:
        self._stop.set()
        if self.kind == "fifo" and self.path is not None:
            try:  # wake a reader blocked in open()
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass
