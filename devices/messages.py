"""Landdesk door protocol: topics, signed messages and offline PINs.

This module is the contract between the booking service and door controllers
(see docs/protocol.md). It is pure standard library on purpose: the Flask
service imports it, and a controller port (e.g. to an ESP32) can be checked
against it line by line.

Every signed message carries ``sig`` = hex HMAC-SHA256 over its canonical JSON
(all fields but ``sig``, sorted keys, no spaces, UTF-8), keyed with the door's
secret (32 random bytes, written as 64 hex characters).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Container, Mapping
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


def _load_object(data: str | bytes, error: type[Rejected]) -> dict[str, Any]:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_MESSAGE_BYTES:
        raise error("malformed", "message too large")
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


# --- unlock command ---------------------------------------------------------

_COMMAND_KEYS = {"v", "id", "door", "action", "open_s", "iat", "exp", "sig"}


@dataclass(frozen=True)
class UnlockCommand:
    """Server → door: open for ``open_s`` seconds, valid from ``iat`` to ``exp``."""

    id: str
    door: str
    open_s: int
    iat: int
    exp: int
    sig: str
    v: int = PROTOCOL_VERSION
    action: str = "unlock"

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "id": self.id,
            "door": self.door,
            "action": self.action,
            "open_s": self.open_s,
            "iat": self.iat,
            "exp": self.exp,
            "sig": self.sig,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: str | bytes) -> UnlockCommand:
        """Parse and shape-check (no signature or time check: see check_command)."""
        obj = _load_object(data, CommandRejected)
        return cls._from_obj(obj)

    @classmethod
    def _from_obj(cls, obj: dict[str, Any]) -> UnlockCommand:
        if obj.get("v") != PROTOCOL_VERSION:
            raise CommandRejected("unsupported", f"version {obj.get('v')!r}")
        if set(obj) != _COMMAND_KEYS:
            raise CommandRejected("malformed", "unexpected or missing fields")
        if not (
            _is_id(obj["id"])
            and isinstance(obj["door"], str)
            and isinstance(obj["action"], str)
            and _is_int(obj["open_s"])
            and _is_int(obj["iat"])
            and _is_int(obj["exp"])
            and isinstance(obj["sig"], str)
        ):
            raise CommandRejected("malformed", "field types")
        return cls(
            id=obj["id"],
            door=obj["door"],
            open_s=obj["open_s"],
            iat=obj["iat"],
            exp=obj["exp"],
            sig=obj["sig"],
            v=obj["v"],
            action=obj["action"],
        )


def make_unlock(
    door_id: str,
    secret: str | bytes,
    *,
    open_s: int,
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
    command_id: str | None = None,
) -> UnlockCommand:
    """A signed unlock command; ``ttl_s`` (1..30) is how long it stays valid."""
    validate_door_id(door_id)
    if not _is_int(open_s) or not 1 <= open_s <= MAX_OPEN_S:
        raise ValueError(f"open_s must be an int in 1..{MAX_OPEN_S}")
    if not _is_int(ttl_s) or not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be an int in 1..{MAX_TTL_S}")
    command_id = command_id or uuid.uuid4().hex
    if not _is_id(command_id):
        raise ValueError("command id must be 1..64 characters")
    iat = _now(now)
    body = {
        "v": PROTOCOL_VERSION,
        "id": command_id,
        "door": door_id,
        "action": "unlock",
        "open_s": open_s,
        "iat": iat,
        "exp": iat + ttl_s,
    }
    return UnlockCommand(
        id=command_id,
        door=door_id,
        open_s=open_s,
        iat=iat,
        exp=iat + ttl_s,
        sig=sign(body, secret),
    )


def check_command(
    cmd_bytes: str | bytes,
    *,
    door_id: str,
    secret: str | bytes,
    now: float,
    seen_ids: Container[str],
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S,
    max_open_s: int = MAX_OPEN_S,
) -> UnlockCommand:
    """Verify an unlock command for this door; return it or raise CommandRejected.

    Order: size and JSON shape, version/action, door, time window, signature,
    replay. Everything before the HMAC is cheap, so floods of junk cost little.
    ``seen_ids`` holds ids already executed; the caller must record the id
    (persistently) before actuating.
    """
    obj = _load_object(cmd_bytes, CommandRejected)
    cmd = UnlockCommand._from_obj(obj)
    if cmd.action != "unlock":
        raise CommandRejected("unsupported", f"action {cmd.action!r}")
    if not 1 <= cmd.open_s <= max_open_s:
        raise CommandRejected("malformed", f"open_s outside 1..{max_open_s}")
    if cmd.door != door_id:
        raise CommandRejected("wrong_door", f"for door {cmd.door!r}")
    if cmd.exp - cmd.iat > MAX_TTL_S or cmd.exp < cmd.iat:
        raise CommandRejected("expired", "validity longer than 30 s")
    if now > cmd.exp + clock_skew_s:
        raise CommandRejected("expired", f"{now - cmd.exp:.0f} s after exp")
    if cmd.iat > now + clock_skew_s:
        raise CommandRejected("expired", "issued in the future")
    if not verify(obj, secret):
        raise CommandRejected("bad_signature")
    if cmd.id in seen_ids:
        raise CommandRejected("replay", cmd.id)
    return cmd


# --- ack --------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """Door → server: the outcome of one command, signed by the door."""

    id: str
    door: str
    ok: bool
    ts: int
    sig: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self.id, "door": self.door, "ok": self.ok}
        if not self.ok:
            obj["reason"] = self.reason
        obj["ts"] = self.ts
        obj["sig"] = self.sig
        return obj

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: str | bytes) -> Ack:
        obj = _load_object(data, MessageRejected)
        return cls._from_obj(obj)

    @classmethod
    def _from_obj(cls, obj: dict[str, Any]) -> Ack:
        keys = {"id", "door", "ok", "ts", "sig"}
        if obj.get("ok") is False:
            keys.add("reason")
        if set(obj) != keys or not (
            _is_id(obj["id"])
            and isinstance(obj["door"], str)
            and isinstance(obj["ok"], bool)
            and _is_int(obj["ts"])
            and isinstance(obj["sig"], str)
            and (obj["ok"] or isinstance(obj["reason"], str))
        ):
            raise MessageRejected("malformed", "ack shape")
        return cls(
            id=obj["id"],
            door=obj["door"],
            ok=obj["ok"],
            ts=obj["ts"],
            sig=obj["sig"],
            reason=obj.get("reason"),
        )


def make_ack(
    command_id: str,
    door_id: str,
    secret: str | bytes,
    *,
    ok: bool,
    reason: str | None = None,
    now: float | None = None,
) -> Ack:
    """A signed ack; ``reason`` is required when ``ok`` is False."""
    if not ok and not reason:
        raise ValueError("a negative ack needs a reason")
    body: dict[str, Any] = {"id": command_id, "door": door_id, "ok": ok}
    if not ok:
        body["reason"] = reason
    body["ts"] = _now(now)
    return Ack(
        id=command_id,
        door=door_id,
        ok=ok,
        ts=body["ts"],
        sig=sign(body, secret),
        reason=reason if not ok else None,
    )


def parse_ack(
    payload: str | bytes, secret: str | bytes, *, door_id: str | None = None
) -> Ack:
    """Parse and verify an ack; raises MessageRejected (malformed, bad_signature,
    wrong_door)."""
    obj = _load_object(payload, MessageRejected)
    ack = Ack._from_obj(obj)
    if door_id is not None and ack.door != door_id:
        raise MessageRejected("wrong_door", ack.door)
    if not verify(obj, secret):
        raise MessageRejected("bad_signature")
    return ack


# --- state ------------------------------------------------------------------


@dataclass(frozen=True)
class DoorState:
    """Door → server, retained. The last will carries only door and status."""

    door: str
    status: Literal["online", "offline"]
    open: bool | None = None
    ts: int | None = None
    battery: int | None = None
    fw: str | None = None
    sig: str | None = None

    @property
    def is_will(self) -> bool:
        return self.ts is None

    def to_dict(self) -> dict[str, Any]:
        if self.is_will:
            return {"door": self.door, "status": self.status}
        obj: dict[str, Any] = {
            "door": self.door,
            "status": self.status,
            "open": self.open,
            "ts": self.ts,
            "battery": self.battery,
            "fw": self.fw,
        }
        if self.sig is not None:
            obj["sig"] = self.sig
        return obj

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: str | bytes) -> DoorState:
        return cls._from_obj(_load_object(data, MessageRejected))

    @classmethod
    def _from_obj(cls, obj: dict[str, Any]) -> DoorState:
        status = obj.get("status")
        if not isinstance(obj.get("door"), str) or status not in ("online", "offline"):
            raise MessageRejected("malformed", "state shape")
        if set(obj) == {"door", "status"}:
            return cls(door=obj["door"], status=status)
        full = {"door", "status", "open", "ts", "battery", "fw"}
        battery = obj.get("battery")
        if not (
            full <= set(obj) <= full | {"sig"}
            and isinstance(obj["open"], bool)
            and _is_int(obj["ts"])
            and (battery is None or (_is_int(battery) and 0 <= battery <= 100))
            and isinstance(obj["fw"], str)
            and isinstance(obj.get("sig", ""), str)
        ):
            raise MessageRejected("malformed", "state shape")
        return cls(
            door=obj["door"],
            status=status,
            open=obj["open"],
            ts=obj["ts"],
            battery=battery,
            fw=obj["fw"],
            sig=obj.get("sig"),
        )


State = DoorState


def make_state(
    door_id: str,
    secret: str | bytes | None,
    *,
    status: Literal["online", "offline"],
    open: bool,
    battery: int | None = None,
    fw: str = FIRMWARE,
    now: float | None = None,
) -> DoorState:
    """A full state message, signed when a secret is given."""
    body = {
        "door": door_id,
        "status": status,
        "open": open,
        "ts": _now(now),
        "battery": battery,
        "fw": fw,
    }
    sig = sign(body, secret) if secret is not None else None
    return DoorState(sig=sig, **body)  # type: ignore[arg-type]


def last_will(door_id: str) -> DoorState:
    """The MQTT last will: ``{"door": id, "status": "offline"}``, retained."""
    return DoorState(door=validate_door_id(door_id), status="offline")


def parse_state(payload: str | bytes, secret: str | bytes | None = None) -> DoorState:
    """Parse a state message. With a secret, a full state must be signed; the
    bare offline will cannot be signed and is accepted as is."""
    obj = _load_object(payload, MessageRejected)
    state = DoorState._from_obj(obj)
    if secret is not None and not state.is_will and not verify(obj, secret):
        raise MessageRejected("bad_signature")
    return state


# --- events -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Door → server, QoS 1, signed; ``offline`` if made without a connection."""

    id: str
    door: str
    type: str
    ts: int
    sig: str
    offline: bool = False
    cmd: str | None = None
    window: tuple[int, ...] | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "door": self.door,
            "type": self.type,
            "ts": self.ts,
            "offline": self.offline,
            "cmd": self.cmd,
            "window": list(self.window) if self.window is not None else None,
            "reason": self.reason,
            "sig": self.sig,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, data: str | bytes) -> Event:
        return cls._from_obj(_load_object(data, MessageRejected))

    @classmethod
    def _from_obj(cls, obj: dict[str, Any]) -> Event:
        keys = {"id", "door", "type", "ts", "offline", "cmd", "window", "reason"}
        window = obj.get("window")
        if not (
            set(obj) == keys | {"sig"}
            and _is_id(obj["id"])
            and isinstance(obj["door"], str)
            and obj["type"] in EVENT_TYPES
            and _is_int(obj["ts"])
            and isinstance(obj["offline"], bool)
            and (obj["cmd"] is None or _is_id(obj["cmd"]))
            and (
                window is None
                or (
                    isinstance(window, list)
                    and len(window) in (2, 3)
                    and all(_is_int(w) for w in window)
                )
            )
            and (obj["reason"] is None or isinstance(obj["reason"], str))
            and isinstance(obj["sig"], str)
        ):
            raise MessageRejected("malformed", "event shape")
        return cls(
            id=obj["id"],
            door=obj["door"],
            type=obj["type"],
            ts=obj["ts"],
            sig=obj["sig"],
            offline=obj["offline"],
            cmd=obj["cmd"],
            window=tuple(window) if window is not None else None,
            reason=obj["reason"],
        )


def make_event(
    door_id: str,
    secret: str | bytes,
    type: str,
    *,
    now: float | None = None,
    offline: bool = False,
    cmd: str | None = None,
    window: tuple[int, ...] | None = None,
    reason: str | None = None,
    event_id: str | None = None,
) -> Event:
    """A signed event of one of EVENT_TYPES."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    body: dict[str, Any] = {
        "id": event_id or uuid.uuid4().hex,
        "door": door_id,
        "type": type,
        "ts": _now(now),
        "offline": offline,
        "cmd": cmd,
        "window": list(window) if window is not None else None,
        "reason": reason,
    }
    sig = sign(body, secret)
    return Event(
        id=body["id"],
        door=door_id,
        type=type,
        ts=body["ts"],
        sig=sig,
        offline=offline,
        cmd=cmd,
        window=window,
        reason=reason,
    )


def parse_event(
    payload: str | bytes, secret: str | bytes, *, door_id: str | None = None
) -> Event:
    """Parse and verify an event; raises MessageRejected."""
    obj = _load_object(payload, MessageRejected)
    event = Event._from_obj(obj)
    if door_id is not None and event.door != door_id:
        raise MessageRejected("wrong_door", event.door)
    if not verify(obj, secret):
        raise MessageRejected("bad_signature")
    return event


__all__ = [
    "Ack",
    "CommandRejected",
    "DeviceError",
    "DeviceOffline",
    "DoorState",
    "Event",
    "MessageRejected",
    "PinRejected",
    "Rejected",
    "State",
    "UnlockCommand",
    "canonical",
    "check_command",
    "last_will",
    "make_ack",
    "make_event",
    "make_state",
    "make_unlock",
    "new_secret",
    "parse_ack",
    "parse_event",
    "parse_state",
    "parse_topic",
    "secret_key",
    "sign",
    "topic",
    "topic_filter",
    "validate_door_id",
    "verify",
]
