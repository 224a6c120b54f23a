"""Landdesk reference door controller.

Run it with ``python -m devices.controller --config door.toml``. It receives
signed unlock commands over MQTT, checks them (devices.messages), pulses a
relay or drives a vendor device (bridge mode), answers with signed acks and
events, accepts offline PINs on a keypad with no network at all, and queues
the events it could not send in its state file.

Threads: paho's network thread runs the MQTT callbacks; the keypad, relay
timers and bridge run in their own threads. ``self._lock`` guards the state
store and is never held while calling paho or the relay (both take locks of
their own and call back into us).
"""

# ruff: noqa: E402 - the dnspython guard below must run before paho is imported

from __future__ import annotations

import sys

if __name__ == "__main__":
    # paho-mqtt imports dnspython, when installed, only for connect_srv(), which
    # a door never uses; keeping it out saves ~4 MB of RSS on a small board.
    sys.modules.setdefault("dns", None)  # type: ignore[arg-type]

import argparse
import collections
import contextlib
import json
import logging
import os
import signal
import socket
import stat
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices import vendors
from devices.messages import (
    DEFAULT_CLOCK_SKEW_S,
    FIRMWARE,
    MAX_ID_LENGTH,
    MAX_OPEN_S,
    BrokerUrl,
    CommandRejected,
    DeviceError,
    Event,
    PinRejected,
    UnlockCommand,
    check_command,
    check_pin,
    last_will,
    make_ack,
    make_event,
    make_state,
    secret_key,
    topic,
    validate_door_id,
)
from devices.relays import SimulatedRelay, TimedRelay, make_relay

log = logging.getLogger("landdesk.door")

# Keypad throttling: after PIN_FREE_ATTEMPTS wrong entries the keypad locks
# for 30 s, doubling with each further lock-out up to 15 min; the level decays
# after an hour without wrong entries.
PIN_FREE_ATTEMPTS = 3
PIN_LOCKOUT_BASE_S = 30
PIN_LOCKOUT_MAX_S = 15 * 60
PIN_LEVEL_RESET_S = 3600
MAX_QUEUED_EVENTS = 1000
# Refusals of junk commands are events too; cap them so a flood cannot fill
# the queue or wear out the flash.
REFUSAL_EVENTS_PER_MINUTE = 20


# --- configuration ----------------------------------------------------------


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


# --- persistent state -------------------------------------------------------


class StateStore:
    """The controller's JSON state file: seen command ids (with the time until
    which they must be remembered), keypad throttle, queued events.

    Writes are atomic (temporary file, fsync, rename). Without a path the
    store lives in memory only.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.seen: dict[str, int] = {}
        self.pin: dict[str, float] = {"failures": 0, "level": 0, "locked_until": 0}
        self.queue: list[dict[str, Any]] = []
        self.load()

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            self.seen = {str(k): int(v) for k, v in data.get("seen", {}).items()}
            self.pin.update(data.get("pin", {}))
            self.queue = list(data.get("queue", []))
        except (ValueError, TypeError, AttributeError):
            # Commands live at most 30 s, so losing seen ids is safe once the
            # file is older than that; keep the broken file for inspection.
            broken = self.path.with_suffix(".corrupt")
            os.replace(self.path, broken)
            log.error("state file unreadable, moved to %s", broken)

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {"seen": self.seen, "pin": self.pin, "queue": self.queue}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def prune_seen(self, now: float) -> dict[str, int]:
        for command_id in [k for k, until in self.seen.items() if until < now]:
            del self.seen[command_id]
        return self.seen


# --- results ----------------------------------------------------------------


@dataclass(frozen=True)
class PinResult:
    accepted: bool
    reason: str | None = None
    window: tuple[int, int] | None = None
    locked_until: float | None = None
    new_lockout: bool = False


@dataclass
class _Pending:
    command_id: str | None
    request_id: int
    timer: threading.Timer


class _RateLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.stamps: collections.deque[float] = collections.deque()

    def allow(self) -> bool:
        now = self.clock()
        while self.stamps and self.stamps[0] < now - 60:
            self.stamps.popleft()
        if len(self.stamps) >= self.per_minute:
            return False
        self.stamps.append(now)
        return True


def _set_nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # Small command/ack packets: do not let Nagle hold them back.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close_client(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
    # loop_stop() leaves paho's internal wake-up socket pair open until the
    # client is garbage-collected; reinitialise() closes it now.
    client.reinitialise()


def _make_client(client_id: str, url: BrokerUrl, ca_file: str | None) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if url.username is not None:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        client.tls_set(ca_certs=ca_file)
    client.on_socket_open = _set_nodelay
    client.reconnect_delay_set(1, 30)
    return client


# --- vendor bridge ----------------------------------------------------------


class VendorBridge:
    """Drives one vendor device on a (site-local) broker after our own checks."""

    def __init__(self, controller: Controller, config: BridgeConfig) -> None:
        self.controller = controller
        self.config = config
        self.vendor = vendors.get_vendor(config.kind)
        self.url = BrokerUrl.parse(config.url)
        self.connected = threading.Event()
        self.online: bool | None = None
        self.battery: int | None = None
        self.battery_low: bool | None = None
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._next_id = int(time.time() * 1000) % 1_000_000_000
        self.client = _make_client(
            f"landdesk-bridge-{controller.config.door_id}",
            self.url,
            config.ca_file,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.url.host, self.url.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for item in pending:
            item.timer.cancel()
        _close_client(self.client)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("bridge broker refused connection: %s", reason_code)
            return
        for name in self.vendor.status_topics(self.config.device_id):
            client.subscribe(name, qos=1)
        self.connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()

    def unlock(self, command_id: str | None, seconds: int) -> None:
        """Send the vendor's unlock; the ack follows from its status messages."""
        if not self.connected.is_set():
            raise DeviceError("bridge broker not connected")
        if self.online is False:
            raise DeviceError("vendor device reports offline")
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            timer = threading.Timer(
                self.config.ack_timeout_s, self._timeout, args=(request_id,)
            )
            timer.daemon = True
            self._pending[request_id] = _Pending(command_id, request_id, timer)
        timer.start()
        for name, payload in self.vendor.unlock_messages(
            self.config.device_id, seconds, request_id=request_id
        ):
            self.client.publish(name, payload, qos=1, retain=False)

    def _timeout(self, request_id: int) -> None:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is not None:
            self.controller._finish_command(
                pending.command_id, ok=False, reason="device_timeout"
            )

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        status = self.vendor.interpret(message.topic, message.payload)
        if status is None or status.device_id != self.config.device_id:
            return
        if status.online is not None:
            self.online = status.online
            self.controller._publish_state()
        if status.battery is not None:
            self.battery = status.battery
        if status.battery_low is not None:
            self.battery_low = status.battery_low
        # A retained status was there before our command: never an ack.
        if status.ack is not None and not message.retain:
            with self._lock:
                pending = None
                if status.request_id is not None:
                    pending = self._pending.pop(status.request_id, None)  # type: ignore[arg-type]
                elif self._pending:
                    pending = self._pending.pop(min(self._pending))
            if pending is not None:
                pending.timer.cancel()
                self.controller._finish_command(
                    pending.command_id,
                    ok=status.ack,
                    reason=None if status.ack else "device_refused",
                    detail=status.reason,
                )
        if status.open is not None:
            self.controller._door_output(status.open)


# --- controller -------------------------------------------------------------


class Controller:
    """One door: MQTT session, command checks, relay or bridge, keypad, events.

    ``start()`` returns at once; the connection is made (and re-made after any
    loss) in the background, and PINs work with no connection at all.
    """

    def __init__(
        self,
        config: ControllerConfig,
        *,
        relay: TimedRelay | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.door_id = config.door_id
        self.url = BrokerUrl.parse(config.mqtt_url)
        self.store = StateStore(config.state_file)
        self.relay: TimedRelay | None = None
        if config.bridge is None:
            self.relay = relay or make_relay(
                config.relay,
                **(
                    {"pin": config.gpio_pin, "active_high": config.active_high}
                    if config.relay == "gpio"
                    else {}
                ),
            )
            self.relay.max_pulse_s = float(config.max_open_s)
            self.relay.on_change = self._door_output
        self.bridge = VendorBridge(self, config.bridge) if config.bridge else None
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.events: collections.deque[Event] = collections.deque(maxlen=200)
        self._lock = threading.RLock()
        self._mid_lock = threading.Lock()
        self._inflight: dict[int, str | None] = {}
        self._acked_early: set[int] = set()
        self._context: dict[str, Any] = {}
        self._is_open = False
        self._door_open = False
        self._held_timer: threading.Timer | None = None
        self._refusals = _RateLimit(REFUSAL_EVENTS_PER_MINUTE, time.monotonic)
        self._keypad: _Keypad | None = None
        self._stopped = threading.Event()
        self.topics = {
            k: topic(config.prefix, self.door_id, k)
            for k in ("cmd", "ack", "state", "event")
        }
        self.client = _make_client(
            f"landdesk-door-{self.door_id}", self.url, config.ca_file
        )
        self.client.will_set(
            self.topics["state"], last_will(self.door_id).to_json(), qos=1, retain=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    # lifecycle

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        # A persistent session: commands sent during a short network loss are
        # still delivered, and then refused if they arrive after exp.
        props.SessionExpiryInterval = self.config.session_expiry_s
        self.client.connect_async(
            self.url.host,
            self.url.port,
            keepalive=self.config.keepalive,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()
        if self.bridge is not None:
            self.bridge.start()
        if self.config.keypad != "none":
            self._keypad = _Keypad(self, self.config.keypad, self.config.keypad_path)
            self._keypad.start()

    def stop(self) -> None:
        """Announce offline (retained), disconnect, leave the relay off."""
        self._stopped.set()
        if self._keypad is not None:
            self._keypad.stop()
        if self.connected.is_set():
            info = self.client.publish(
                self.topics["state"],
                self._state_payload(online=False),
                qos=1,
                retain=True,
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        _close_client(self.client)
        if self.bridge is not None:
            self.bridge.stop()
        if self._held_timer is not None:
            self._held_timer.cancel()
        if self.relay is not None:
            self.relay.close()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until connected and subscribed to the command topic."""
        return self.subscribed.wait(timeout) and self.connected.is_set()

    # MQTT callbacks (paho network thread)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection: %s", reason_code)
            return
        # retainAsPublished: a retained command is recognisable even when it
        # reaches us live, not only when the broker replays it on subscribe.
        options = SubscribeOptions(qos=1, retainAsPublished=True)
        client.subscribe(self.topics["cmd"], options=options)
        self.connected.set()
        log.info("connected to %s:%s", self.url.host, self.url.port)
        self._publish_state()
        self._flush_events()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error(
                "subscription to %s refused: %s", self.topics["cmd"], reason_codes
            )
            return
        self.subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopped.is_set():
            log.warning("disconnected (%s); reconnecting", reason_code)

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        if message.topic == self.topics["cmd"]:
            try:
                self.handle_command(message.payload, retained=bool(message.retain))
            except Exception:
                log.exception("command handling failed")

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._mid_lock:
            if mid not in self._inflight:
                self._acked_early.add(mid)
                return
            event_id = self._inflight.pop(mid)
        self._published(event_id, reason_code)

    def _published(self, event_id: str | None, reason_code: ReasonCode) -> None:
        if event_id is None:
            return
        if reason_code.is_failure:
            log.error("broker refused event %s: %s", event_id, reason_code)
            return
        with self._lock:
            before = len(self.store.queue)
            self.store.queue = [e for e in self.store.queue if e["id"] != event_id]
            if len(self.store.queue) != before:
                self.store.save()

    def _publish(
        self,
        name: str,
        payload: str,
        *,
        retain: bool = False,
        event_id: str | None = None,
    ) -> None:
        info = self.client.publish(name, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            # paho keeps it queued and may still send it after reconnecting;
            # the receiver dedupes on ids, and commands carry exp.
            log.debug("publish to %s deferred: rc=%s", name, info.rc)
        with self._mid_lock:
            early = info.mid in self._acked_early
            if early:
                self._acked_early.discard(info.mid)
            else:
                self._inflight[info.mid] = event_id
        if early:
            self._published(event_id, ReasonCode(PacketTypes.PUBACK, identifier=0))

    # state

    def _state_payload(self, *, online: bool) -> str:
        battery = None
        status_online = online
        if self.bridge is not None:
            battery = self.bridge.battery
            if self.bridge.online is False:
                status_online = False
        return make_state(
            self.door_id,
            self.config.secret,
            status="online" if status_online else "offline",
            open=self._is_open,
            battery=battery,
            fw=FIRMWARE,
            now=self.clock(),
        ).to_json()

    def _publish_state(self) -> None:
        if self.connected.is_set():
            self._publish(
                self.topics["state"], self._state_payload(online=True), retain=True
            )

    # events

    def _emit(
        self,
        type: str,
        *,
        cmd: str | None = None,
        window: tuple[int, int] | None = None,
        reason: str | None = None,
    ) -> Event:
        offline = not self.connected.is_set()
        event = make_event(
            self.door_id,
            self.config.secret,
            type,
            now=self.clock(),
            offline=offline,
            cmd=cmd,
            window=window,
            reason=reason,
        )
        with self._lock:
            self.store.queue.append(event.to_dict())
            if len(self.store.queue) > MAX_QUEUED_EVENTS:
                del self.store.queue[: len(self.store.queue) - MAX_QUEUED_EVENTS]
            self.store.save()
        self.events.append(event)
        log.info("event %s cmd=%s reason=%s offline=%s", type, cmd, reason, offline)
        if not offline:
            self._publish(self.topics["event"], event.to_json(), event_id=event.id)
        return event

    def _flush_events(self) -> None:
        with self._lock:
            queued = list(self.store.queue)
        with self._mid_lock:
            inflight = set(self._inflight.values())
        log.debug("flushing %d queued events", len(queued))
        for obj in queued:
            if obj["id"] not in inflight:
                self._publish(
                    self.topics["event"],
                    json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
                    event_id=obj["id"],
                )

    def _door_output(self, is_open: bool) -> None:
        """The strike (or vendor output) changed: event + state."""
        if is_open == self._is_open:
            return
        self._is_open = is_open
        context = dict(self._context)
        self._emit("opened" if is_open else "closed", **context)
        self._publish_state()

    # commands

    def _ack(self, command_id: str, *, ok: bool, reason: str | None = None) -> None:
        ack = make_ack(
            command_id,
            self.door_id,
            self.config.secret,
            ok=ok,
            reason=reason,
            now=self.clock(),
        )
        if self.connected.is_set():
            self._publish(self.topics["ack"], ack.to_json())

    def _refuse(self, payload: bytes, reason: str, detail: str | None) -> None:
        command_id = _best_effort_id(payload)
        log.warning("command refused: %s (%s)", reason, detail)
        if command_id is not None:
            self._ack(command_id, ok=False, reason=reason)
        if self._refusals.allow():
            text = reason if detail is None else f"{reason}: {detail}"
            self._emit("unlock_refused", cmd=command_id, reason=text[:200])

    def handle_command(self, payload: bytes, *, retained: bool = False) -> bool:
        """Check one command payload and act on it; True if the door opens."""
        if retained:
            # A retained command would fire again on every reconnect.
            self._refuse(payload, "retained", "commands must not be retained")
            return False
        now = self.clock()
        with self._lock:
            try:
                cmd = check_command(
                    payload,
                    door_id=self.door_id,
                    secret=self.config.secret,
                    now=now,
                    seen_ids=self.store.prune_seen(now),
                    clock_skew_s=self.config.clock_skew_s,
                    max_open_s=MAX_OPEN_S,
                )
            except CommandRejected as exc:
                refused: CommandRejected | None = exc
            else:
                refused = None
                # Persist before actuating: a crash right after opening must
                # not make this command valid again.
                self.store.seen[cmd.id] = cmd.exp + self.config.clock_skew_s
                self.store.save()
        if refused is not None:
            self._refuse(payload, refused.reason, refused.detail)
            return False
        return self._actuate(cmd)

    def _actuate(self, cmd: UnlockCommand) -> bool:
        seconds = min(cmd.open_s, self.config.max_open_s)
        self._context = {"cmd": cmd.id}
        try:
            if self.bridge is not None:
                self.bridge.unlock(cmd.id, seconds)
                return True  # ack follows from the vendor's status
            assert self.relay is not None
            self.relay.unlock(seconds=seconds)
        except DeviceError as exc:
            self._finish_command(
                cmd.id, ok=False, reason="device_error", detail=str(exc)
            )
            return False
        self._finish_command(cmd.id, ok=True)
        return True

    def _finish_command(
        self,
        command_id: str | None,
        *,
        ok: bool,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Ack a command (None: a keypad opening) once the device answered."""
        reason = None if ok else (reason or "device_error")
        if command_id is not None:
            self._ack(command_id, ok=ok, reason=reason)
        if not ok:
            text = reason if detail is None else f"{reason}: {detail}"
            self._emit("unlock_refused", cmd=command_id, reason=text)

    # keypad

    def enter_pin(self, pin: str) -> PinResult:
        """Check a keypad entry (works offline); opens the door if valid now."""
        now = self.clock()
        with self._lock:
            throttle = self.store.pin
            if now < throttle["locked_until"]:
                result = PinResult(
                    False, "locked_out", locked_until=throttle["locked_until"]
                )
            else:
                if now - throttle.get("last_failure", 0) > PIN_LEVEL_RESET_S:
                    throttle["level"] = 0
                try:
                    window = check_pin(self.config.secret, self.door_id, pin, now)
                except PinRejected as exc:
                    result = self._pin_failure(exc, now)
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

    def _pin_failure(self, exc: PinRejected, now: float) -> PinResult:
        if exc.reason == "outside_window":
            # A genuine PIN at the wrong time is not a guess.
            return PinResult(False, "outside_window", window=exc.window)
        throttle = self.store.pin
        throttle["failures"] += 1
        throttle["last_failure"] = now
        if throttle["failures"] < PIN_FREE_ATTEMPTS:
            return PinResult(False, exc.reason)
        throttle["failures"] = 0
        throttle["level"] += 1
        lockout = min(
            PIN_LOCKOUT_BASE_S * 2 ** (throttle["level"] - 1), PIN_LOCKOUT_MAX_S
        )
        throttle["locked_until"] = now + lockout
        return PinResult(
            False, "locked_out", locked_until=now + lockout, new_lockout=True
        )

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

    @staticmethod
    def rss_kb() -> int:
        """Resident memory of this process in KiB (Linux)."""
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def _best_effort_id(payload: bytes) -> str | None:
    try:
        obj = json.loads(payload[:4096])
    except (ValueError, UnicodeDecodeError):
        return None
    value = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


# --- keypad input ----------------------------------------------------------


class _Keypad(threading.Thread):
    """Reads PIN lines from stdin or a FIFO (a simulated keypad)."""

    def __init__(self, controller: Controller, kind: str, path: str | None) -> None:
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


# --- command line -----------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devices.controller", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True, help="TOML configuration file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = ControllerConfig.from_toml(args.config)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    controller = Controller(config)
    done = threading.Event()

    def _terminate(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    controller.start()
    log.info("door %s running (%s)", config.door_id, FIRMWARE)
    done.wait()
    controller.stop()
    log.info("door %s stopped", config.door_id)
    return 0


__all__ = [
    "BridgeConfig",
    "Controller",
    "ControllerConfig",
    "BrokerUrl",
    "PinResult",
    "SimulatedRelay",
    "StateStore",
    "VendorBridge",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
