"""Offline PINs and their revocation lists (docs/protocol.md sections 8 and 9).

A PIN carries its own time window, a per-booking index and a MAC over all
three, so a controller verifies it with no network and no list of bookings,
and two bookings never share one (the service gives each booking its own
index among those with the same window). A PIN the service withdraws
(booking cancelled, member suspended, location closed) is named in a signed
revocation list that the controller keeps until the PIN's window ends.
Pure standard library, like devices.messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from devices.messages import (
    PROTOCOL_VERSION,
    MessageRejected,
    PinRejected,
    secret_key,
    sign,
    validate_door_id,
    verify,
)
from devices.protocol import load_object

PIN_SLOT_S = 1800
PIN_SLOT_MODULUS = 1000
PIN_MAX_SLOTS = 48
# Bookings with the same window at one location get indexes 00..99.
PIN_INDEXES = 100
PIN_LENGTH = 12
# A revocation list names every withdrawn PIN of the door whose window has not
# ended; a few thousand fit.
MAX_REVOCATION_BYTES = 64 * 1024
_REVOCATION_KEYS = {"v", "door", "iat", "pins", "sig"}

# (start slot, slots, index): what identifies a PIN on one door.
PinKey = tuple[int, int, int]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pin_mac(
    secret: str | bytes, door_id: str, start_slot: int, slots: int, index: int
) -> str:
    msg = f"pin2|{door_id}|{start_slot}|{slots}|{index}".encode()
    digest = hmac.new(secret_key(secret), msg, hashlib.sha256).hexdigest()
    return f"{int(digest, 16) % 100000:05d}"


def pin_window(starts_at_unix: float, ends_at_unix: float) -> tuple[int, int]:
    """The (start_slot, slots) a PIN encodes: start floored, end ceiled to 30 min."""
    if ends_at_unix <= starts_at_unix:
        raise ValueError("PIN window is empty")
    if ends_at_unix - starts_at_unix > PIN_MAX_SLOTS * PIN_SLOT_S:
        raise ValueError("PIN window longer than 24 h")
    start_slot = math.floor(starts_at_unix / PIN_SLOT_S)
    end_slot = math.ceil(ends_at_unix / PIN_SLOT_S)
    slots = end_slot - start_slot
    if slots > PIN_MAX_SLOTS:
        raise ValueError("PIN window spans more than 48 half-hour slots")
    return start_slot, slots


def _check_key(start_slot: int, slots: int, index: int) -> None:
    if not (_is_int(start_slot) and start_slot >= 0):
        raise ValueError("start slot must be a non-negative int")
    if not (_is_int(slots) and 1 <= slots <= PIN_MAX_SLOTS):
        raise ValueError(f"slots must be an int in 1..{PIN_MAX_SLOTS}")
    if not (_is_int(index) and 0 <= index < PIN_INDEXES):
        raise ValueError(f"PIN index must be an int in 0..{PIN_INDEXES - 1}")


def offline_pin(
    secret: str | bytes,
    door_id: str,
    starts_at_unix: float,
    ends_at_unix: float,
    *,
    index: int,
) -> str:
    """The 12-digit offline PIN ``SSS DD NN MMMMM`` for this door, window and
    per-booking index.

    Raises ValueError for an empty window, one longer than 24 h, or an index
    outside 0..99.
    """
    validate_door_id(door_id)
    start_slot, slots = pin_window(starts_at_unix, ends_at_unix)
    _check_key(start_slot, slots, index)
    sss = start_slot % PIN_SLOT_MODULUS
    mac = _pin_mac(secret, door_id, start_slot, slots, index)
    return f"{sss:03d}{slots:02d}{index:02d}{mac}"


def check_pin(
    secret: str | bytes,
    door_id: str,
    pin: str,
    now_unix: float,
    revoked: Container[PinKey] = (),
) -> tuple[int, int, int]:
    """Verify an offline PIN at ``now_unix``; return (start, end, index), the
    window in unix seconds and the PIN's index.

    The start slot is the one congruent to SSS (mod 1000) nearest to now.
    Raises PinRejected: ``malformed``, ``wrong`` (MAC mismatch), ``revoked``
    (genuine, but in ``revoked``) or ``outside_window`` (genuine, not valid
    now); the last two carry the window.
    """
    digits = "".join(pin.split()) if isinstance(pin, str) else ""
    if len(digits) != PIN_LENGTH or not digits.isascii() or not digits.isdigit():
        raise PinRejected("malformed", f"a PIN has {PIN_LENGTH} digits")
    sss, slots, index = int(digits[:3]), int(digits[3:5]), int(digits[5:7])
    mac = digits[7:]
    if not 1 <= slots <= PIN_MAX_SLOTS:
        raise PinRejected("malformed", "duration out of range")
    now_slot = math.floor(now_unix / PIN_SLOT_S)
    back = (now_slot - sss) % PIN_SLOT_MODULUS
    start_slot = (
        now_slot - back
        if back <= PIN_SLOT_MODULUS // 2
        else (now_slot - back + PIN_SLOT_MODULUS)
    )
    expected = _pin_mac(secret, door_id, start_slot, slots, index)
    if not hmac.compare_digest(expected, mac):
        raise PinRejected("wrong")
    start = start_slot * PIN_SLOT_S
    end = (start_slot + slots) * PIN_SLOT_S
    if (start_slot, slots, index) in revoked:
        raise PinRejected("revoked", window=(start, end, index))
    if not start <= now_unix < end:
        raise PinRejected("outside_window", window=(start, end, index))
    return start, end, index


def pin_ends_at(key: PinKey) -> int:
    """Unix second at which the PIN's window ends (its revocation may go then)."""
    return (key[0] + key[1]) * PIN_SLOT_S


# --- revocation lists -------------------------------------------------------


@dataclass(frozen=True)
class Revocations:
    """Server → door, retained: every withdrawn PIN whose window has not ended."""

    door: str
    iat: int
    pins: tuple[PinKey, ...]
    sig: str
    v: int = PROTOCOL_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "door": self.door,
            "iat": self.iat,
            "pins": [list(key) for key in self.pins],
            "sig": self.sig,
        }

    def to_json(self) -> str:
        return json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def make_revocations(
    door_id: str,
    secret: str | bytes,
    pins: Iterable[PinKey],
    *,
    now: float | None = None,
) -> Revocations:
    """The signed list for one door; ``pins`` as (start slot, slots, index)."""
    validate_door_id(door_id)
    keys = tuple(sorted({tuple(key) for key in pins}))  # type: ignore[misc]
    for key in keys:
        _check_key(*key)
    body = {
        "v": PROTOCOL_VERSION,
        "door": door_id,
        "iat": int(time.time() if now is None else now),
        "pins": [list(key) for key in keys],
    }
    return Revocations(door_id, body["iat"], keys, sign(body, secret))  # type: ignore[arg-type]


def parse_revocations(
    payload: str | bytes, secret: str | bytes, *, door_id: str
) -> Revocations:
    """Parse and verify a revocation list for this door; raises MessageRejected."""
    obj = load_object(
        payload, MessageRejected, limit=MAX_REVOCATION_BYTES, what="revocation list"
    )
    if set(obj) != _REVOCATION_KEYS:
        raise MessageRejected("malformed", "unexpected or missing fields")
    if obj["v"] != PROTOCOL_VERSION:
        raise MessageRejected("unsupported", f"version {obj['v']!r}")
    pins = obj["pins"]
    if not (
        isinstance(obj["door"], str)
        and _is_int(obj["iat"])
        and isinstance(obj["sig"], str)
        and isinstance(pins, list)
        and all(
            isinstance(key, list)
            and len(key) == 3
            and all(_is_int(part) for part in key)
            for key in pins
        )
    ):
        raise MessageRejected("malformed", "field types")
    if obj["door"] != door_id:
        raise MessageRejected("wrong_door", obj["door"])
    if not verify(obj, secret):
        raise MessageRejected("bad_signature")
    return Revocations(
        obj["door"], obj["iat"], tuple((k[0], k[1], k[2]) for k in pins), obj["sig"]
    )


__all__ = [
    "PIN_INDEXES",
    "PIN_LENGTH",
    "PIN_MAX_SLOTS",
    "PIN_SLOT_S",
    "PinKey",
    "Revocations",
    "check_pin",
    "make_revocations",
    "offline_pin",
    "parse_revocations",
    "pin_ends_at",
    "pin_window",
]
