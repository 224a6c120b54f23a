"""Test helpers for door access: polling, and vendor devices (Shelly,
Tasmota, Nuki) that answer on the broker in their makers' formats."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import Broker

# Vendor device logins that deploy/mosquitto/acl has example blocks for.
VENDOR_DEVICES = {
    "shelly": ("shellyplus1-a8032ab12345", "shelly-pw"),
    "tasmota": ("door-relay-1", "tasmota-pw"),
    "nuki": ("3A1B2C4D", "nuki-pw"),
}
VENDOR_USERS = {
    "shellyplus1-a8032ab12345": "shelly-pw",
    "door-relay-1": "tasmota-pw",
    "nuki-3A1B2C4D": "nuki-pw",
}


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


class VendorDevice:
    """A Shelly, Tasmota or Nuki device as its maker documents it, on the
    broker with its own login: answers unlocks with its status messages."""

    def __init__(self, broker: Broker, kind: str, *, refuse: bool = False) -> None:
        self.kind = kind
        self.device_id, password = VENDOR_DEVICES[kind]
        user = f"nuki-{self.device_id}" if kind == "nuki" else self.device_id
        self.refuse = refuse
        self.commands: list[tuple[str, str]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"vendor-{kind}-{time.time_ns()}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(5), f"{kind} device did not subscribe"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        d = self.device_id
        command_topic = {
            "shelly": f"{d}/rpc",
            "tasmota": f"cmnd/{d}/#",
            "nuki": f"nuki/{d}/lockAction",
        }[self.kind]
        client.subscribe(command_topic, qos=1)

    def publish(self, name: str, payload: str, retain: bool = False) -> None:
        self.client.publish(name, payload, qos=1, retain=retain)

    def _on_message(self, client, userdata, message) -> None:
        payload = message.payload.decode()
        self.commands.append((message.topic, payload))
        d = self.device_id
        if self.kind == "shelly":
            frame = json.loads(payload)
            if self.refuse:
                reply = {
                    "id": frame["id"],
                    "src": d,
                    "dst": frame["src"],
                    "error": {"code": -103, "message": "Invalid argument"},
                }
            else:
                reply = {
                    "id": frame["id"],
                    "src": d,
                    "dst": frame["src"],
                    "result": {"was_on": False},
                }
            self.publish(f"{frame['src']}/rpc", json.dumps(reply))
            if not self.refuse:
                self.publish(
                    f"{d}/status/switch:0", json.dumps({"id": 0, "output": True})
                )
        elif self.kind == "tasmota":
            self.publish(f"stat/{d}/RESULT", json.dumps({"POWER": "ON"}))
            self.publish(f"stat/{d}/POWER", "ON")
        else:
            if self.refuse:
                self.publish(f"nuki/{d}/commandResponse", "1")
            else:
                self.publish(f"nuki/{d}/commandResponse", "0")
                self.publish(f"nuki/{d}/state", "7")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def fresh(db) -> None:
    """End the test session's transaction so the next read sees what the
    service's threads committed (SQLite reads from a snapshot otherwise)."""
    db.commit()
    db.expire_all()
