"""Native MQTT formats of off-the-shelf relays and locks.

Pure standard library, like devices.messages, so the booking service can drive
a vendor device directly as well as the reference controller in bridge mode.
None of these devices verifies who sent a command: their only protection is
the broker's credentials and ACL (deploy/mosquitto/acl), so a Landdesk
controller checks our signed command first and only then speaks the vendor's
format on a site-local broker. Sources are listed in docs/protocol.md.

Each vendor offers:

- ``unlock_messages(device_id, open_s, *, request_id)`` → ``[(topic, payload)]``,
  to be published with QoS 1 and never retained;
- ``status_topics(device_id)`` → topics to subscribe to;
- ``interpret(topic, payload)`` → ``VendorStatus`` or None for unrelated
  messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class VendorStatus:
    """What one vendor message says. ``None`` fields: the message is silent.

    ``ack`` True confirms an unlock, False reports a refusal (``reason``).
    ``request_id`` is set when the device echoes our request id (Shelly).
    """

    device_id: str
    ack: bool | None = None
    online: bool | None = None
    open: bool | None = None
    battery_low: bool | None = None
    battery: int | None = None
    request_id: int | str | None = None
    reason: str | None = None


class Vendor(Protocol):
    kind: str

    def unlock_messages(
        self, device_id: str, open_s: int, *, request_id: int | str
    ) -> list[tuple[str, str]]: ...

    def status_topics(self, device_id: str) -> list[str]: ...

    def interpret(self, topic: str, payload: bytes | str) -> VendorStatus | None: ...


def _text(payload: bytes | str) -> str:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="replace").strip()
    return payload.strip()


def _json(payload: bytes | str) -> Any:
    try:
        return json.loads(_text(payload))
    except ValueError:
        return None


def _check_device_id(device_id: str) -> str:
    if not device_id or any(ch in device_id for ch in "/+#\x00"):
        raise ValueError(f"device id {device_id!r} is not one topic level")
    return device_id


def _check_open_s(open_s: int) -> int:
    if isinstance(open_s, bool) or not isinstance(open_s, int) or open_s < 1:
        raise ValueError("open_s must be a positive int")
    return open_s


class ShellyGen2:
    """Shelly Gen2/Gen3 (Plus, Pro) switch, JSON-RPC over MQTT.

    Requests go to ``<topic_prefix>/rpc`` (the prefix defaults to the device
    id); the response frame is published to ``<src>/rpc``. ``toggle_after``
    makes the device itself switch the relay back off, so the pulse ends even
    if nothing else reaches it. Status: ``<prefix>/status/switch:0``
    (``status_ntf``), ``<prefix>/events/rpc`` (``rpc_ntf``) and, on many
    firmwares, ``<prefix>/online``.
    """

    kind = "shelly"

    def __init__(self, switch_id: int = 0) -> None:
        self.switch_id = switch_id

    @staticmethod
    def reply_source(device_id: str) -> str:
        """The ``src`` we send, so replies arrive on ``landdesk-<device>/rpc``."""
        return f"landdesk-{device_id}"

    def unlock_messages(
        self, device_id: str, open_s: int, *, request_id: int | str
    ) -> list[tuple[str, str]]:
        _check_device_id(device_id)
        frame = {
            "id": request_id,
            "src": self.reply_source(device_id),
            "method": "Switch.Set",
            "params": {
                "id": self.switch_id,
                "on": True,
                "toggle_after": _check_open_s(open_s),
            },
        }
        return [(f"{device_id}/rpc", json.dumps(frame, separators=(",", ":")))]

    def status_topics(self, device_id: str) -> list[str]:
        _check_device_id(device_id)
        return [
            f"{self.reply_source(device_id)}/rpc",
            f"{device_id}/status/switch:{self.switch_id}",
            f"{device_id}/events/rpc",
            f"{device_id}/online",
        ]

    def _switch_status(self, device_id: str, status: Any) -> VendorStatus | None:
        if not isinstance(status, dict) or not isinstance(status.get("output"), bool):
            return None
        on = status["output"]
        return VendorStatus(device_id=device_id, ack=True if on else None, open=on)

    def interpret(self, topic: str, payload: bytes | str) -> VendorStatus | None:
        parts = topic.split("/")
        if len(parts) == 2 and parts[1] == "online":
            text = _text(payload).lower()
            if text in ("true", "false"):
                return VendorStatus(device_id=parts[0], online=text == "true")
            return None
        if len(parts) == 3 and parts[1:] == ["status", f"switch:{self.switch_id}"]:
            return self._switch_status(parts[0], _json(payload))
        frame = _json(payload)
        if not isinstance(frame, dict):
            return None
        if len(parts) == 3 and parts[1:] == ["events", "rpc"]:
            if frame.get("method") != "NotifyStatus":
                return None
            params = frame.get("params") or {}
            return self._switch_status(parts[0], params.get(f"switch:{self.switch_id}"))
        if len(parts) == 2 and parts[1] == "rpc" and parts[0].startswith("landdesk-"):
            device_id = frame.get("src")
            if not isinstance(device_id, str):
                return None
            if "result" in frame:
                return VendorStatus(
                    device_id=device_id, ack=True, request_id=frame.get("id")
                )
            if isinstance(frame.get("error"), dict):
                error = frame["error"]
                return VendorStatus(
                    device_id=device_id,
                    ack=False,
                    request_id=frame.get("id"),
                    reason=f"shelly_error_{error.get('code')}: {error.get('message')}",
                )
        return None


def tasmota_pulsetime(seconds: int) -> int:
    """Tasmota's PulseTime value: 1..111 count 0.1 s, 112..64900 count s + 100."""
    _check_open_s(seconds)
    if seconds * 10 <= 111:
        return seconds * 10
    return min(seconds + 100, 64900)


class Tasmota:
    """Tasmota relay, ``cmnd/<topic>/...`` with the default FullTopic.

    One ``Backlog`` message sets ``PulseTime<n>`` (the firmware switches the
    relay off by itself) and then ``Power<n> ON``. Replies arrive on
    ``stat/<topic>/RESULT`` (``{"POWER":"ON"}``) and ``stat/<topic>/POWER``;
    availability is the retained LWT ``tele/<topic>/LWT`` ``Online``/``Offline``.
    """

    kind = "tasmota"

    def __init__(self, relay: int = 1) -> None:
        self.relay = relay

    def unlock_messages(
        self, device_id: str, open_s: int, *, request_id: int | str
    ) -> list[tuple[str, str]]:
        _check_device_id(device_id)
        pulse = tasmota_pulsetime(open_s)
        payload = f"PulseTime{self.relay} {pulse}; Power{self.relay} ON"
        return [(f"cmnd/{device_id}/Backlog", payload)]

    def status_topics(self, device_id: str) -> list[str]:
        _check_device_id(device_id)
        return [
            f"stat/{device_id}/RESULT",
            f"stat/{device_id}/POWER",
            f"stat/{device_id}/POWER{self.relay}",
            f"tele/{device_id}/LWT",
            f"tele/{device_id}/STATE",
        ]

    def _power_keys(self) -> tuple[str, ...]:
        return (
            (f"POWER{self.relay}", "POWER")
            if self.relay == 1
            else (f"POWER{self.relay}",)
        )

    def _power(self, device_id: str, value: Any) -> VendorStatus | None:
        if not isinstance(value, str) or value.upper() not in ("ON", "OFF"):
            return None
        on = value.upper() == "ON"
        return VendorStatus(device_id=device_id, ack=True if on else None, open=on)

    def interpret(self, topic: str, payload: bytes | str) -> VendorStatus | None:
        parts = topic.split("/")
        if len(parts) != 3:
            return None
        prefix, device_id, name = parts
        if prefix == "tele" and name == "LWT":
            text = _text(payload)
            if text in ("Online", "Offline"):
                return VendorStatus(device_id=device_id, online=text == "Online")
            return None
        if prefix == "stat" and name.upper() in self._power_keys():
            return self._power(device_id, _text(payload))
        if (prefix == "stat" and name == "RESULT") or (
            prefix == "tele" and name == "STATE"
        ):
            obj = _json(payload)
            if not isinstance(obj, dict):
                return None
            for key in self._power_keys():
                if key in obj:
                    status = self._power(device_id, obj[key])
                    if status is not None and prefix == "tele":
                        # Telemetry is periodic, not an answer to our command.
                        status = VendorStatus(device_id=device_id, open=status.open)
                    return status
        return None


NUKI_UNLATCH = 3
# nuki/<id>/state values (Nuki MQTT API): 1 locked, 2 unlocking, 3 unlocked,
# 4 locking, 5 unlatched, 6 unlocked (lock'n'go), 7 unlatching, 254 motor blocked.
# "open" means the latch is pulled (5, 7); after unlatching the lock reports 3.
NUKI_OPEN_STATES = {5, 7}
NUKI_CLOSED_STATES = {1, 3, 4, 6}


class Nuki:
    """Nuki Smart Lock (3.0 Pro, 4th gen) built-in MQTT API.

    ``nuki/<id>/lockAction`` ``3`` unlatches (opens the door). The lock answers
    on ``commandResponse`` (0 = success, other values are BLE error codes) and
    reports ``state`` (5 unlatched, 7 unlatching). ``connected`` is its LWT;
    ``batteryCritical``/``batteryChargeState`` report the battery. The unlatch
    duration is set on the lock, so ``open_s`` is not sent.
    """

    kind = "nuki"

    def unlock_messages(
        self, device_id: str, open_s: int, *, request_id: int | str
    ) -> list[tuple[str, str]]:
        _check_device_id(device_id)
        _check_open_s(open_s)
        return [(f"nuki/{device_id}/lockAction", str(NUKI_UNLATCH))]

    def status_topics(self, device_id: str) -> list[str]:
        _check_device_id(device_id)
        return [
            f"nuki/{device_id}/{name}"
            for name in (
                "commandResponse",
                "state",
                "connected",
                "batteryCritical",
                "batteryChargeState",
                "doorsensorState",
            )
        ]

    def interpret(self, topic: str, payload: bytes | str) -> VendorStatus | None:
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != "nuki":
            return None
        device_id, name, text = parts[1], parts[2], _text(payload)
        if name in ("connected", "batteryCritical"):
            if text not in ("true", "false"):
                return None
            if name == "connected":
                return VendorStatus(device_id=device_id, online=text == "true")
            return VendorStatus(device_id=device_id, battery_low=text == "true")
        if not text.isdigit():
            return None
        value = int(text)
        if name == "commandResponse":
            if value == 0:
                return VendorStatus(device_id=device_id, ack=True)
            return VendorStatus(
                device_id=device_id, ack=False, reason=f"nuki_error_{value}"
            )
        if name == "state":
            if value in NUKI_OPEN_STATES:
                return VendorStatus(device_id=device_id, ack=True, open=True)
            if value in NUKI_CLOSED_STATES:
                return VendorStatus(device_id=device_id, open=False)
            return None
        if name == "batteryChargeState" and 0 <= value <= 100:
            return VendorStatus(device_id=device_id, battery=value)
        if name == "doorsensorState" and value in (2, 3):
            return VendorStatus(device_id=device_id, open=value == 3)
        return None


VENDORS: dict[str, Vendor] = {
    "shelly": ShellyGen2(),
    "tasmota": Tasmota(),
    "nuki": Nuki(),
}


def get_vendor(kind: str) -> Vendor:
    """The vendor format for ``kind`` (shelly, tasmota, nuki); KeyError if unknown."""
    try:
        return VENDORS[kind]
    except KeyError:
        raise KeyError(f"unknown vendor {kind!r}; known: {sorted(VENDORS)}") from None


def unlock_messages(
    kind: str, device_id: str, open_s: int, *, request_id: int | str
) -> list[tuple[str, str]]:
    return get_vendor(kind).unlock_messages(device_id, open_s, request_id=request_id)


def status_topics(kind: str, device_id: str) -> list[str]:
    return get_vendor(kind).status_topics(device_id)


def interpret(kind: str, topic: str, payload: bytes | str) -> VendorStatus | None:
    return get_vendor(kind).interpret(topic, payload)
