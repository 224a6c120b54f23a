"""The door controller's configuration (a TOML file, docs/protocol.md section 12)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices import vendors
from devices.messages import (
    DEFAULT_CLOCK_SKEW_S,
    MAX_OPEN_S,
    BrokerUrl,
    secret_key,
    validate_door_id,
)


@dataclass(frozen=True)
class BridgeConfig:
    kind: str
    device_id: str
    url: str = field(repr=False)
    ack_timeout_s: float = 5.0
    ca_file: str | None = None


@dataclass(frozen=True)
class ControllerConfig:
    door_id: str
    secret: str = field(repr=False)
    mqtt_url: str = field(repr=False)
    prefix: str = "landdesk"
    ca_file: str | None = None
    keepalive: int = 30
    session_expiry_s: int = 300
    open_s: int = 5
    max_open_s: int = 15
    relay: str = "simulated"
    gpio_pin: int | None = None
    active_high: bool = True
    state_file: str | None = None
    held_open_alert_s: float = 60.0
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S
    keypad: str = "none"
    keypad_path: str | None = None
    bridge: BridgeConfig | None = None

    def __post_init__(self) -> None:
        validate_door_id(self.door_id)
        secret_key(self.secret)
        BrokerUrl.parse(self.mqtt_url)
        if not 1 <= self.max_open_s <= MAX_OPEN_S:
            raise ValueError(f"max_open_s must be in 1..{MAX_OPEN_S}")
        if not 1 <= self.open_s <= self.max_open_s:
            raise ValueError("open_s must be in 1..max_open_s")
        if self.relay not in ("simulated", "gpio"):
            raise ValueError("relay must be 'simulated' or 'gpio'")
        if self.relay == "gpio" and self.gpio_pin is None and self.bridge is None:
            raise ValueError("relay = 'gpio' needs gpio_pin")
        if self.keypad not in ("none", "stdin", "fifo"):
            raise ValueError("keypad kind must be none, stdin or fifo")
        if self.keypad == "fifo" and not self.keypad_path:
            raise ValueError("keypad kind 'fifo' needs path")
        if self.bridge is not None:
            vendors.get_vendor(self.bridge.kind)
            BrokerUrl.parse(self.bridge.url)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], base: Path | None = None
    ) -> ControllerConfig:
        mqtt_section = data.get("mqtt", {})
        door = data.get("door", {})
        keypad = data.get("keypad", {})
        bridge = data.get("bridge")
        secret = door.get("secret")
        if secret is None and "secret_file" in door:
            secret = _resolve(door["secret_file"], base).read_text().strip()
        if not secret or "id" not in door or "url" not in mqtt_section:
            raise ValueError("config needs [mqtt] url, [door] id and secret")
        state_file = door.get("state_file")
        return cls(
            door_id=str(door["id"]),
            secret=secret,
            mqtt_url=mqtt_section["url"],
            prefix=mqtt_section.get("prefix", "landdesk"),
            ca_file=mqtt_section.get("ca_file"),
            keepalive=int(mqtt_section.get("keepalive", 30)),
            session_expiry_s=int(mqtt_section.get("session_expiry_s", 300)),
            open_s=int(door.get("open_s", 5)),
            max_open_s=int(door.get("max_open_s", 15)),
            relay=door.get("relay", "simulated"),
            gpio_pin=door.get("gpio_pin"),
            active_high=bool(door.get("active_high", True)),
            state_file=str(_resolve(state_file, base)) if state_file else None,
            held_open_alert_s=float(door.get("held_open_alert_s", 60)),
            clock_skew_s=int(door.get("clock_skew_s", DEFAULT_CLOCK_SKEW_S)),
            keypad=keypad.get("kind", "none"),
            keypad_path=keypad.get("path"),
            bridge=BridgeConfig(
                kind=bridge["kind"],
                device_id=str(bridge["device_id"]),
                url=bridge["url"],
                ack_timeout_s=float(bridge.get("ack_timeout_s", 5.0)),
                ca_file=bridge.get("ca_file"),
            )
            if bridge
            else None,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> ControllerConfig:
        path = Path(path)
        with path.open("rb") as fh:
            return cls.from_dict(tomllib.load(fh), base=path.parent)


def _resolve(name: str, base: Path | None) -> Path:
    path = Path(name)
    return path if path.is_absolute() or base is None else base / path
