"""Landdesk reference door controller.

Run it with ``python -m devices.controller --config door.toml``, or pair it
once with ``--pair <service URL> <code>`` (devices.pairing). It receives
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
import signal
import threading
import time
import tomllib
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices import pairing
from devices.bridge import VendorBridge
from devices.client import close_client, make_client
from devices.config import BridgeConfig, ControllerConfig
from devices.door_inputs import DoorInputs
from devices.keypad import KeypadReader, PinResult
from devices.messages import (
    FIRMWARE,
    MAX_ID_LENGTH,
    MAX_OPEN_S,
    BrokerUrl,
    CommandRejected,
    DeviceError,
    Event,
    UnlockCommand,
    check_command,
    last_will,
    make_ack,
    make_event,
    make_state,
    topic,
)
from devices.relays import SimulatedRelay, TimedRelay, make_relay
from devices.state import StateStore

log = logging.getLogger("landdesk.door")

MAX_QUEUED_EVENTS = 1000
# Refusals of junk commands are events too; cap them so a flood cannot fill
# the queue or wear out the flash.
REFUSAL_EVENTS_PER_MINUTE = 20


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


class Controller(DoorInputs):
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
            self.relay.on_change = self.door_output
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
        self._keypad: KeypadReader | None = None
        self._stopped = threading.Event()
        self.topics = {
            k: topic(config.prefix, self.door_id, k)
            for k in ("cmd", "ack", "state", "event", "revoked")
        }
        self.client = make_client(
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
            self._keypad = KeypadReader(
                self, self.config.keypad, self.config.keypad_path
            )
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
        # The bridge first: its pending device timeouts publish through the
        # client, which must not be closed under them.
        if self.bridge is not None:
            self.bridge.stop()
        close_client(self.client)
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
        # The revocation list is retained: a door that was offline gets the
        # current one as soon as it subscribes.
        client.subscribe([(self.topics["cmd"], options), (self.topics["revoked"], 1)])
        self.connected.set()
        log.info("connected to %s:%s", self.url.host, self.url.port)
        self.publish_state()
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
        try:
            if message.topic == self.topics["cmd"]:
                self.handle_command(message.payload, retained=bool(message.retain))
            elif message.topic == self.topics["revoked"]:
                self.handle_revocations(message.payload)
        except Exception:
            log.exception("message on %s not handled", message.topic)

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
        if self._stopped.is_set():
            # Stopping: events stay in the state file's queue and go out on
            # the next start; the socket may already be closed.
            return
        try:
            info = self.client.publish(name, payload, qos=1, retain=retain)
        except OSError:
            if self._stopped.is_set():  # closed between the check and here
                return
            raise
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

    def publish_state(self) -> None:
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

    def door_output(self, is_open: bool) -> None:
        """The strike (or vendor output) changed: event + state."""
        if is_open == self._is_open:
            return
        self._is_open = is_open
        context = dict(self._context)
        self._emit("opened" if is_open else "closed", **context)
        self.publish_state()

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
            self.finish_command(
                cmd.id, ok=False, reason="device_error", detail=str(exc)
            )
            return False
        self.finish_command(cmd.id, ok=True)
        return True

    def finish_command(
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


# --- command line -----------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devices.controller", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--config", default="landdesk-door.toml", help="TOML configuration file"
    )
    parser.add_argument(
        "--pair",
        nargs=2,
        metavar=("SERVICE_URL", "CODE"),
        help="fetch the configuration with a pairing code, write it, then run",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.pair:
        try:
            written = pairing.pair(args.pair[0], args.pair[1], args.config)
        except (pairing.PairingFailed, OSError) as exc:
            print(f"pairing failed: {exc}", file=sys.stderr)
            return 3
        log.info("paired: configuration written to %s", written)
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
    # Wake up now and then: the kernel may deliver SIGTERM to one of paho's or
    # the keypad's threads, and Python runs the handler only when the main
    # thread runs again; an endless wait() would never return (seen in CI:
    # the controller ignored SIGTERM for 10 s until it was killed).
    while not done.wait(0.5):
        pass
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
