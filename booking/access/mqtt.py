"""The service's MQTT link to the doors: the only paho-mqtt code in booking/.

One ``DoorLink`` per process (``access.link.get_link``), made lazily so that
each gunicorn worker builds its own after the fork. It publishes unlock commands (QoS 1,
never retained, MQTT v5 message expiry = the command's remaining lifetime),
matches acks to the waiting request by command id, and hands door state and
events to a worker thread that stores them (``on_report``).

Never publish while disconnected: paho would queue the message and send it
after the next connect, possibly minutes later. ``unlock`` answers
"unavailable" at once instead, and a lost connection is never resumed: the
supervisor thread throws the client (and whatever it still had queued) away
and connects a fresh one. For our own controller the signed ``exp`` is the
second line of defence; vendor devices have only this one.

A network cut without a TCP reset is noticed two ways: a short keepalive (5 s,
so at most ~10 s without traffic), and an unlock whose PUBACK does not come
within ``puback_timeout_s`` (1 s) answers "unavailable" and drops the
connection at once.

``flask doors listen`` gives its link a persistent session (fixed client id,
``clean_start=False`` from the first connect, a session expiry): the broker
keeps the door events published while the listener is down and delivers them
when it is back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices import vendors
from devices.client import set_nodelay
from devices.messages import (
    MAX_TTL_S,
    Ack,
    BrokerUrl,
    MessageRejected,
    make_unlock,
    parse_ack,
    parse_topic,
    topic,
)

log = logging.getLogger(__name__)

SHARE_GROUP = "landdesk-service"
# Vendor status topics the service listens to (the ACL lets it read them).
VENDOR_FILTERS = (
    "+/rpc",
    "+/status/switch:0",
    "+/events/rpc",
    "+/online",
    "stat/+/RESULT",
    "stat/+/POWER",
    "stat/+/POWER1",
    "tele/+/LWT",
    "tele/+/STATE",
    *(
        f"nuki/+/{name}"
        for name in (
            "commandResponse",
            "state",
            "connected",
            "batteryCritical",
            "batteryChargeState",
            "doorsensorState",
        )
    ),
)
# Nuki first: its topics are the most specific; Shelly's "+/online" last.
_VENDOR_ORDER = ("nuki", "tasmota", "shelly")


@dataclass(frozen=True)
class Outcome:
    """What became of one unlock: opened, refused, timeout or unavailable."""

    status: str
    reason: str | None = None
    command_id: str | None = None


@dataclass(frozen=True)
class Report:
    """Something a door said that must be stored (by the report worker)."""

    kind: str  # "state", "event" (our controller) or "vendor"
    door: str  # door id (ours) or vendor device id
    payload: bytes = b""
    retained: bool = False
    vendor: str | None = None
    status: vendors.VendorStatus | None = None
    received_at: float = field(default_factory=time.time)


class _Waiter:
    __slots__ = ("door", "secret", "request_id", "done", "ok", "reason")

    def __init__(
        self, door: str, secret: str | None = None, request_id: Any = None
    ) -> None:
        self.door = door
        self.secret = secret
        self.request_id = request_id
        self.done = threading.Event()
        self.ok: bool | None = None
        self.reason: str | None = None

    def finish(self, ok: bool, reason: str | None) -> None:
        self.ok, self.reason = ok, reason
        self.done.set()


def _unverified_refusal(payload: bytes, door: str) -> str | None:
    """The reason of a well-formed negative ack, without checking its signature."""
    try:
        ack = Ack.from_json(payload)
    except MessageRejected:
        return None
    if ack.ok or ack.door != door:
        return None
    return ack.reason


class DoorLink:
    """A supervised paho client plus the bookkeeping of waiting unlocks."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "landdesk",
        on_report: Callable[[Report], None] | None = None,
        client_id: str | None = None,
        connect_grace_s: float = 1.5,
        keepalive: int = 5,
        puback_timeout_s: float = 1.0,
        session_expiry_s: int = 0,
        ca_file: str | None = None,
        share_group: str = SHARE_GROUP,
    ) -> None:
        self.url = BrokerUrl.parse(url)
        self.prefix = prefix
        self.on_report = on_report
        self.client_id = client_id or f"landdesk-app-{uuid.uuid4().hex[:12]}"
        self.connect_grace_s = connect_grace_s
        self.keepalive = keepalive
        self.puback_timeout_s = puback_timeout_s
        # > 0: a persistent session under exactly ``client_id`` (the listener).
        self.session_expiry_s = session_expiry_s
        self.ca_file = ca_file
        self.share_group = share_group
        self.connected = threading.Event()
        # Counts successful connects: retained messages (PIN revocation
        # lists) are published again after each one.
        self.connections = 0
        self.pid = os.getpid()
        self._client: mqtt.Client | None = None
        self._lost = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[str, _Waiter] = {}
        self._vendor_pending: dict[tuple[str, str], list[_Waiter]] = {}
        self._reports: queue.Queue[Report | None] = queue.Queue(maxsize=10000)
        self._started_at = 0.0
        self._supervisor: threading.Thread | None = None
        self._worker: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> DoorLink:
        self._started_at = time.monotonic()
        self._supervisor = threading.Thread(
            target=self._supervise, name="landdesk-mqtt", daemon=True
        )
        self._supervisor.start()
        self._worker = threading.Thread(
            target=self._work, name="landdesk-door-reports", daemon=True
        )
        self._worker.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
        self._lost.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        self._reports.put(None)
        if self._worker is not None:
            self._worker.join(timeout=5)

    def _make_client(self) -> mqtt.Client:
        # reconnect_on_failure=False: after a loss the network thread ends and
        # _supervise starts a new client, so nothing queued is ever re-sent.
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id
            if self.session_expiry_s
            else f"{self.client_id}-{secrets.token_hex(3)}",
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        if self.url.username is not None:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set(ca_certs=self.ca_file)
        client.on_socket_open = set_nodelay
        client.reconnect_delay_set(1, 5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _supervise(self) -> None:
        pause = 0.2
        while not self._stopping.is_set():
            client = self._make_client()
            self._lost.clear()
            self._client = client
            props = None
            if self.session_expiry_s:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = self.session_expiry_s
            try:
                # Persistent: clean_start=False from the very first connect
                # (Mosquitto 2.0.11 does not restore, after a restart, a
                # session opened with clean_start=1).
                client.connect(
                    self.url.host,
                    self.url.port,
                    self.keepalive,
                    clean_start=not self.session_expiry_s,
                    properties=props,
                )
            except OSError as exc:
                log.debug("MQTT broker not reachable: %s", exc)
                self._stopping.wait(pause)
                pause = min(pause * 2, 5.0)
                continue
            client.loop_start()
            down_since: float | None = None
            while not self._lost.wait(1.0):
                # Backstop: a network thread that ended without a disconnect
                # callback (CONNACK never came, say) must not leave us stuck.
                if client.is_connected():
                    down_since = None
                    pause = 0.2
                elif down_since is None:
                    down_since = time.monotonic()
                elif time.monotonic() - down_since > self.keepalive + 5:
                    break
            self.connected.clear()
            with contextlib.suppress(Exception):
                client.disconnect()
            client.loop_stop()
            self._stopping.wait(pause)
            pause = min(pause * 2, 5.0)
        # Let go of the last client here, so that it is freed (and paho closes
        # its wake-up sockets) now, not by the garbage collector's pass over
        # the link <-> callbacks cycle, which finalises the sockets unclosed.
        self._client = None

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker refused the service: %s", reason_code)
            return
        own = SubscribeOptions(qos=1, noLocal=True)
        p = self.prefix
        # Each event is delivered to one process of the group; the unique
        # event id keeps a redelivered one from being stored twice. The
        # listener's persistent session takes every event itself: the broker
        # queues them while it is down (Mosquitto 2.0 does not restore shared
        # subscriptions after a restart), and web processes that got one
        # too find it stored already.
        events = f"{p}/doors/+/event"
        if not self.session_expiry_s:
            events = f"$share/{self.share_group}/{events}"
        subscriptions = [
            (f"{p}/doors/+/ack", own),
            # Retained state must reach every process (shared subscriptions
            # get no retained messages); storing it is idempotent.
            (f"{p}/doors/+/state", own),
            (events, SubscribeOptions(qos=1)),
            *((name, own) for name in VENDOR_FILTERS),
        ]
        client.subscribe(subscriptions)
        if client is self._client:
            self.connections += 1
            self.connected.set()
            log.info("MQTT connected to %s:%s", self.url.host, self.url.port)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if client is self._client:
            self.connected.clear()
            if not self._stopping.is_set():
                log.warning("MQTT connection lost (%s); reconnecting", reason_code)
            self._lost.set()

    def is_connected(self) -> bool:
        """Connected now; right after start, wait out the first connect."""
        if self.connected.is_set():
            return True
        grace = self._started_at + self.connect_grace_s - time.monotonic()
        return grace > 0 and self.connected.wait(grace)

    # --- unlock --------------------------------------------------------------

    def _publish(
        self, client: mqtt.Client | None, name: str, payload: str, expiry_s: int
    ) -> mqtt.MQTTMessageInfo | None:
        if client is None or not self.connected.is_set():
            return None
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = max(1, expiry_s)
        info = client.publish(name, payload, qos=1, retain=False, properties=props)
        return info if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def _await(
        self,
        waiter: _Waiter,
        client: mqtt.Client | None,
        sent: list[mqtt.MQTTMessageInfo],
        timeout_s: float,
    ) -> str | None:
        """Wait for the device: None once it answered, else "timeout", or
        "unavailable" if the broker has not acknowledged (PUBACK) what we
        sent within ``puback_timeout_s``: a connection cut without a TCP
        reset looks alive until the keepalive; give it up now instead."""
        first = min(self.puback_timeout_s, timeout_s)
        if waiter.done.wait(first):
            return None
        if not all(info.is_published() for info in sent):
            if client is self._client and self.connected.is_set():
                log.warning(
                    "MQTT broker silent for %.1f s; reconnecting", self.puback_timeout_s
                )
                self.connected.clear()
                self._lost.set()
            return "unavailable"
        return None if waiter.done.wait(timeout_s - first) else "timeout"

    def unlock(
        self, door_id: str, secret: str, *, open_s: int, timeout_s: float
    ) -> Outcome:
        """Send a signed unlock to our controller and wait for its ack."""
        if not self.is_connected():
            return Outcome("unavailable")
        # Valid no longer than we wait: a command that arrives after we told
        # the person "no answer" must not open the door.
        ttl = max(1, min(MAX_TTL_S, math.ceil(timeout_s)))
        command = make_unlock(door_id, secret, open_s=open_s, ttl_s=ttl)
        waiter = _Waiter(door_id, secret)
        with self._lock:
            self._pending[command.id] = waiter
        try:
            client = self._client
            sent = self._publish(
                client,
                topic(self.prefix, door_id, "cmd"),
                command.to_json(),
                command.exp - int(time.time()),
            )
            if sent is None:
                return Outcome("unavailable", command_id=command.id)
            failed = self._await(waiter, client, [sent], timeout_s)
            if failed:
                return Outcome(failed, command_id=command.id)
        finally:
            with self._lock:
                self._pending.pop(command.id, None)
        return Outcome("opened" if waiter.ok else "refused", waiter.reason, command.id)

    def unlock_vendor(
        self, kind: str, device_id: str, *, open_s: int, timeout_s: float
    ) -> Outcome:
        """Drive a Shelly/Tasmota/Nuki device; its status message is the ack."""
        if not self.is_connected():
            return Outcome("unavailable")
        request_id = secrets.randbits(31) or 1
        waiter = _Waiter(device_id, request_id=request_id)
        key = (kind, device_id)
        with self._lock:
            self._vendor_pending.setdefault(key, []).append(waiter)
        try:
            messages = vendors.unlock_messages(
                kind, device_id, open_s, request_id=request_id
            )
            expiry = max(1, math.ceil(timeout_s))
            client, sent = self._client, []
            for name, payload in messages:
                info = self._publish(client, name, payload, expiry)
                if info is None:
                    return Outcome("unavailable", command_id=str(request_id))
                sent.append(info)
            failed = self._await(waiter, client, sent, timeout_s)
            if failed:
                return Outcome(failed, command_id=str(request_id))
        finally:
            with self._lock:
                waiting = self._vendor_pending.get(key, [])
                if waiter in waiting:
                    waiting.remove(waiter)
                if not waiting:
                    self._vendor_pending.pop(key, None)
        return Outcome(
            "opened" if waiter.ok else "refused", waiter.reason, str(request_id)
        )

    def publish_retained(self, name: str, payload: str) -> bool:
        """Publish a retained message (QoS 1) now; False if not connected, and
        then nothing is queued: the caller publishes again after a connect."""
        client = self._client
        if client is None or not self.connected.is_set():
            return False
        info = client.publish(name, payload, qos=1, retain=True)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # --- incoming (paho network thread: no database, no blocking) -------------

    def _on_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        try:
            self._dispatch(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:
            log.exception("MQTT message on %s not handled", message.topic)

    def _dispatch(self, name: str, payload: bytes, retained: bool) -> None:
        parsed = parse_topic(self.prefix, name)
        if parsed is not None:
            door, kind = parsed
            if kind == "ack":
                self._ack(door, payload)
            elif kind in ("state", "event"):
                self._report(Report(kind, door, payload, retained))
            return
        for kind in _VENDOR_ORDER:
            status = vendors.interpret(kind, name, payload)
            if status is not None:
                self._vendor_status(kind, status, retained)
                return

    def _ack(self, door: str, payload: bytes) -> None:
        try:
            command_id = json.loads(payload).get("id")
        except (ValueError, AttributeError):
            return
        with self._lock:
            waiter = self._pending.get(command_id) if command_id else None
        if waiter is None or waiter.door != door:
            return
        try:
            ack = parse_ack(payload, waiter.secret or "", door_id=door)
        except (MessageRejected, ValueError) as exc:
            refusal = _unverified_refusal(payload, door)
            if refusal is None:
                # An "ok" that the door did not sign opens nothing: keep waiting.
                log.warning("ack %s on door %s rejected: %s", command_id, door, exc)
                return
            # A refusal signed with another secret (the door was set up with
            # an old one, say) is still a refusal: it cannot open anything.
            log.warning("door %s refused %s, ack not verifiable", door, command_id)
            waiter.finish(False, refusal)
            return
        waiter.finish(ack.ok, ack.reason)

    def _vendor_status(
        self, kind: str, status: vendors.VendorStatus, retained: bool
    ) -> None:
        # A retained status was there before our command: never an ack.
        if status.ack is not None and not retained:
            waiter = None
            with self._lock:
                waiting = self._vendor_pending.get((kind, status.device_id))
                if waiting:
                    if status.request_id is not None:
                        waiter = next(
                            (w for w in waiting if w.request_id == status.request_id),
                            None,
                        )
                    else:
                        waiter = waiting[0]
                    if waiter is not None:
                        waiting.remove(waiter)
            if waiter is not None:
                waiter.finish(status.ack, status.reason or "device_refused")
        if any(
            value is not None
            for value in (
                status.online,
                status.open,
                status.battery,
                status.battery_low,
            )
        ):
            self._report(
                Report("vendor", status.device_id, b"", retained, kind, status)
            )

    def _report(self, report: Report) -> None:
        try:
            self._reports.put_nowait(report)
        except queue.Full:
            log.error(
                "door report queue full; dropped %s from %s", report.kind, report.door
            )

    def _work(self) -> None:
        while True:
            report = self._reports.get()
            try:
                if report is None:
                    return
                if self.on_report is not None:
                    self.on_report(report)
            except Exception:
                log.exception("storing a door report failed")
            finally:
                self._reports.task_done()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every report received so far is stored (tests, CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._reports.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False
