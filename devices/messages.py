"""Landdesk door protocol: topics, signed messages and offline PINs.

The signed messages live here; their ground (topics, errors, the secret and
signing) in devices.protocol, whose names this module carries too, so callers
import everything from ``devices.messages``.

This module is the contract between the booking service and door controllers
(see docs/protocol.md). It is pure standard library on purpose: the Flask
service imports it, and a controller port (e.g. to an ESP32) can be checked
against it line by line.

Every signed message carries ``sig`` = hex HMAC-SHA256 over its canonical JSON
(all fields but ``sig``, sorted keys, no spaces, UTF-8), keyed with the door's
secret (32 random bytes, written as 64 hex characters).
"""

from __future__ import annotations

import uuid
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Literal

# The ground of the protocol, under the names every caller knows.
from devices.protocol import (  # noqa: F401
    DEFAULT_CLOCK_SKEW_S,
    DEFAULT_PREFIX,
    DEFAULT_TTL_S,
    EVENT_TYPES,
    FIRMWARE,
    MAX_ID_LENGTH,
    MAX_MESSAGE_BYTES,
    MAX_OPEN_S,
    MAX_TTL_S,
    PROTOCOL_VERSION,
    REJECT_REASONS,
    TOPIC_KINDS,
    BrokerUrl,
    CommandRejected,
    DeviceError,
    DeviceOffline,
    Kind,
    MessageRejected,
    PinRejected,
    Rejected,
    _dumps,
    _is_id,
    _is_int,
    _now,
    canonical,
    load_object,
    new_secret,
    parse_topic,
    secret_key,
    sign,
    topic,
    topic_filter,
    validate_door_id,
    verify,
)

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
        obj = load_object(data, CommandRejected)
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
    obj = load_object(cmd_bytes, CommandRejected)
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
        obj = load_object(data, MessageRejected)
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
    obj = load_object(payload, MessageRejected)
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
        return cls._from_obj(load_object(data, MessageRejected))

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
    obj = load_object(payload, MessageRejected)
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
        return cls._from_obj(load_object(data, MessageRejected))

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
    obj = load_object(payload, MessageRejected)
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
