"""What happens at the door itself, with or without a network: keypad PINs,
revoked PINs, the door contact and the tamper switch.

A part of the reference controller (devices.controller.Controller mixes it
in): the methods use the controller's state store, lock, clock, relay or
bridge, and its ``_emit`` for events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devices.keypad import PinResult, locked_out, pin_failure
from devices.messages import DeviceError, MessageRejected, PinRejected
from devices.pins import check_pin, parse_revocations

if TYPE_CHECKING:
    from devices.bridge import VendorBridge
    from devices.config import ControllerConfig
    from devices.relays import TimedRelay
    from devices.state import StateStore

log = logging.getLogger("landdesk.door")


class DoorInputs:
    """Keypad, revocation lists, door contact and tamper input of a Controller."""

    config: ControllerConfig
    clock: Callable[[], float]
    door_id: str
    store: StateStore
    relay: TimedRelay | None
    bridge: VendorBridge | None
    _lock: threading.RLock
    _context: dict[str, Any]
    _door_open: bool
    _held_timer: threading.Timer | None
    _refusals: Any
    _emit: Callable[..., Any]

    # revoked PINs

    def handle_revocations(self, payload: bytes) -> int:
        """Apply a signed revocation list; return how many PINs it newly
        revokes. They are persisted before this returns and kept until their
        window ends, so neither a restart nor an older list brings one back."""
        try:
            revocations = parse_revocations(
                payload, self.config.secret, door_id=self.door_id
            )
        except MessageRejected as exc:
            log.warning("revocation list refused: %s", exc)
            return 0
        now = self.clock()
        with self._lock:
            added = self.store.add_revoked(list(revocations.pins), now)
            if added:
                self.store.save()
        if added:
            log.info("%d PIN(s) revoked", added)
        return added

    # keypad

    def enter_pin(self, pin: str) -> PinResult:
        """Check a keypad entry (works offline); opens the door if valid now."""
        now = self.clock()
        with self._lock:
            throttle = self.store.pin
            result = locked_out(throttle, now)
            if result is None:
                try:
                    window = check_pin(
                        self.config.secret,
                        self.door_id,
                        pin,
                        now,
                        self.store.revoked_keys(now),
                    )
                except PinRejected as exc:
                    result = pin_failure(throttle, exc, now)
                else:
                    throttle["failures"] = 0
                    result = PinResult(True, window=window)
                self.store.save()
        if result.accepted:
            assert result.window is not None
            self._emit("pin_accepted", window=result.window)
            self._context = {"window": result.window}
            self._open_locally()
        elif result.new_lockout:
            self._emit(
                "pin_locked_out", reason=f"locked until {result.locked_until:.0f}"
            )
        elif result.reason != "locked_out" or self._refusals.allow():
            self._emit("pin_refused", window=result.window, reason=result.reason)
        return result

    def _open_locally(self) -> None:
        seconds = self.config.open_s
        if self.bridge is not None:
            try:
                self.bridge.unlock(None, seconds)
            except DeviceError as exc:
                log.error("PIN accepted but vendor device unreachable: %s", exc)
            return
        assert self.relay is not None
        self.relay.unlock(seconds=seconds)

    # door contact and tamper inputs

    def set_door_open(self, is_open: bool) -> None:
        """Door contact input: raises ``held_open`` if open too long."""
        if is_open and not self._door_open:
            self._held_timer = threading.Timer(
                self.config.held_open_alert_s, self._held_open
            )
            self._held_timer.daemon = True
            self._held_timer.start()
        elif not is_open and self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        self._door_open = is_open

    def _held_open(self) -> None:
        if self._door_open:
            self._emit(
                "held_open",
                reason=f"open longer than {self.config.held_open_alert_s:g} s",
            )

    def report_tamper(self, reason: str) -> None:
        """Tamper switch input (enclosure opened, reader pulled off)."""
        self._emit("tamper", reason=reason[:200])
