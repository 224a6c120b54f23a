"""Landdesk door protocol, the ground every message stands on: topics,
errors, the door secret and HMAC signing (devices.messages builds the signed
messages on it; docs/protocol.md).

Pure standard library, like devices.messages: a controller port (e.g. to an
ESP32) can be checked against it line by line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

PROTOCOL_VERSION = 1
DEFAULT_PREFIX = "landdesk"
FIRMWARE = "landdesk-ref/0.1.0"

TOPIC_KINDS = ("cmd", "ack", "state", "event", "revoked")
MAX_MESSAGE_BYTES = 2048
MAX_TTL_S = 30
DEFAULT_TTL_S = 10
DEFAULT_CLOCK_SKEW_S = 5
# Protocol ceiling for open_s; a controller clamps further to its own limit.
MAX_OPEN_S = 60
MAX_ID_LENGTH = 64

EVENT_TYPES = (
    "opened",
    "closed",
    "pin_accepted",
    "pin_refused",
    "pin_locked_out",
    "unlock_refused",
    "tamper",
    "held_open",
)
REJECT_REASONS = (
    "malformed",
    "bad_signature",
    "wrong_door",
    "expired",
    "replay",
    "unsupported",
)

Kind = Literal["cmd", "ack", "state", "event", "revoked"]


class DeviceError(Exception):
    """Base class for door-side failures."""


class DeviceOffline(DeviceError):
    """The door (or the device behind it) cannot be reached."""


class Rejected(DeviceError):
    """Something was refused; ``reason`` is a short machine code."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CommandRejected(Rejected):
    """An unlock command was refused (protocol check or device refusal)."""


class MessageRejected(Rejected):
    """An ack, state or event failed parsing or signature verification."""


class PinRejected(Rejected):
    """An offline PIN was refused: ``malformed``, ``wrong`` or ``outside_window``.

    ``window`` is set for ``outside_window`` (the PIN was genuine).
    """

    def __init__(
        self,
        reason: str,
        detail: str | None = None,
        window: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(reason, detail)
        self.window = window


# --- topics -----------------------------------------------------------------


@dataclass(frozen=True)
class BrokerUrl:
    """A broker address: ``mqtt://[user:pass@]host[:port]``, ``mqtts://`` for TLS."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """Raises ValueError for anything that is not such a URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("MQTT URL must look like mqtt://[user:pass@]host[:port]")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


def validate_door_id(door_id: str) -> str:
    """Return ``door_id`` if it can be one MQTT topic level, else ValueError."""
    if not isinstance(door_id, str) or not door_id:
        raise ValueError("door id must be a non-empty string")
    if any(ch in door_id for ch in "/+#\x00") or len(door_id) > MAX_ID_LENGTH:
        raise ValueError(f"door id {door_id!r} is not topic-safe")
    return door_id


def topic(prefix: str, door_id: str, kind: Kind | str) -> str:
    """``{prefix}/doors/{door_id}/{kind}`` with ``kind`` in cmd/ack/state/event."""
    if kind not in TOPIC_KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    if not prefix or any(ch in prefix for ch in "+#\x00"):
        raise ValueError(f"bad topic prefix {prefix!r}")
    return f"{prefix}/doors/{validate_door_id(door_id)}/{kind}"


def topic_filter(prefix: str, kind: Kind | str) -> str:
    """Subscription filter for one kind across all doors (server side)."""
    if kind not in TOPIC_KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"{prefix}/doors/+/{kind}"


def parse_topic(prefix: str, name: str) -> tuple[str, str] | None:
    """``(door_id, kind)`` for a door topic under ``prefix``, else None."""
    head = f"{prefix}/doors/"
    if not name.startswith(head):
        return None
    parts = name[len(head) :].split("/")
    if len(parts) != 2 or not parts[0] or parts[1] not in TOPIC_KINDS:
        return None
    return parts[0], parts[1]


# --- signing ----------------------------------------------------------------


def new_secret() -> str:
    """A fresh door secret: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


def secret_key(secret: str | bytes) -> bytes:
    """The HMAC key for a door secret given as hex (or already as bytes)."""
    if isinstance(secret, bytes):
        key = secret
    else:
        try:
            key = bytes.fromhex(secret)
        except ValueError:
            raise ValueError("door secret must be hex") from None
    if len(key) < 16:
        raise ValueError("door secret must be at least 16 bytes (32 hex chars)")
    return key


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed: ``obj`` without ``sig``, canonical JSON."""
    body = {k: v for k, v in obj.items() if k != "sig"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def sign(obj: Mapping[str, Any], secret: str | bytes) -> str:
    """Hex HMAC-SHA256 of ``canonical(obj)``."""
    return hmac.new(secret_key(secret), canonical(obj), hashlib.sha256).hexdigest()


def verify(obj: Mapping[str, Any], secret: str | bytes) -> bool:
    """True if ``obj["sig"]`` is the right signature (constant-time compare)."""
    sig = obj.get("sig")
    if not isinstance(sig, str) or not sig.isascii():
        return False
    return hmac.compare_digest(sign(obj, secret), sig)


def _dumps(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_object(
    data: str | bytes,
    error: type[Rejected],
    *,
    limit: int = MAX_MESSAGE_BYTES,
    what: str = "message",
) -> dict[str, Any]:
    """The JSON object of a payload of at most ``limit`` bytes; raises
    ``error("malformed", ...)`` for anything else."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > limit:
        raise error("malformed", f"{what} too large")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise error("malformed", "not JSON") from None
    if not isinstance(obj, dict):
        raise error("malformed", "not a JSON object")
    return obj


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)
