"""Bridge mode: drive a Shelly, Tasmota or Nuki device on a (site-local)
broker after the controller has checked our signed command."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from devices import vendors
from devices.client import close_client, make_client
from devices.config import BridgeConfig
from devices.messages import BrokerUrl, DeviceError

log = logging.getLogger("landdesk.door")


class BridgeOwner(Protocol):
    """What the bridge reports to: the controller."""

    config: Any

    def finish_command(
        self,
        command_id: str | None,
        *,
        ok: bool,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None: ...

    def publish_state(self) -> None: ...

    def door_output(self, is_open: bool) -> None: ...


@dataclass
class _Pending:
    command_id: str | None
    request_id: int
    timer: threading.Timer


class VendorBridge:
    """Drives one vendor device on a (site-local) broker after our own checks."""

    def __init__(self, controller: BridgeOwner, config: BridgeConfig) -> None:
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
        self.client = make_client(
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
        close_client(self.client)

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
            self.controller.finish_command(
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
            self.controller.publish_state()
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
                self.controller.finish_command(
                    pending.command_id,
                    ok=status.ack,
                    reason=None if status.ack else "device_refused",
                    detail=status.reason,
                )
        if status.open is not None:
            self.controller.door_output(status.open)
