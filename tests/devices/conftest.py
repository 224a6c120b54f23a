"""Fixtures for the door side: a real Mosquitto with the deploy ACL, a test
client playing the booking service, and controllers with a SimulatedRelay."""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # until pyproject.toml sets pythonpath
    sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from devices import messages  # noqa: E402
from devices.controller import Controller, ControllerConfig  # noqa: E402
from devices.relays import SimulatedRelay  # noqa: E402
from tests.support.mosquitto import DEPLOY_ACL, Broker, start_broker  # noqa: E402

SERVICE_USER = "landdesk"
SERVICE_PASSWORD = "service-pw"
VENDOR_USERS = {
    "shellyplus1-a8032ab12345": "shelly-pw",
    "door-relay-1": "tasmota-pw",
    "nuki-3A1B2C4D": "nuki-pw",
}


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """A private Mosquitto with the deploy ACL, the service user and the
    example vendor devices; add doors with ``broker.add_user``."""
    b = start_broker({SERVICE_USER: SERVICE_PASSWORD, **VENDOR_USERS}, DEPLOY_ACL)
    yield b
    b.close()


@pytest.fixture
def private_broker() -> Iterator[Broker]:
    """A broker of its own, for tests that stop and restart it."""
    b = start_broker({SERVICE_USER: SERVICE_PASSWORD, **VENDOR_USERS}, DEPLOY_ACL)
    yield b
    b.close()


@dataclass(frozen=True)
class Door:
    id: str
    password: str
    secret: str


_door_ids = itertools.count(100)


@pytest.fixture
def make_door() -> Callable[[Broker], Door]:
    def factory(b: Broker) -> Door:
        door = Door(str(next(_door_ids)), f"pw-{time.time_ns()}", messages.new_secret())
        b.add_user(door.id, door.password)
        return door

    return factory


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class MqttProbe:
    """A paho client that records what it receives; by default the service."""

    broker: Broker
    user: str = SERVICE_USER
    subscriptions: tuple[str, ...] = ("landdesk/doors/#",)
    received: list[Received] = field(default_factory=list)
    publish_results: dict[int, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"probe-{self.user}-{time.time_ns()}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(self.user, self.broker.users[self.user])
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        # Like the real service: a persistent session, so events that doors
        # flush right after a broker restart wait for us. (Mosquitto 2.0.11
        # does not persist a session opened with clean_start=1 across a
        # restart, hence clean_start=False from the first connect.)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        self.client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()
        assert self.connected.wait(5), "probe could not connect"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        assert not reason_code.is_failure, reason_code
        if self.subscriptions:
            client.subscribe([(name, 1) for name in self.subscriptions])
        else:
            self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:
        with self._cond:
            self.received.append(
                Received(message.topic, bytes(message.payload), bool(message.retain))
            )
            self._cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._cond:
            self.publish_results[mid] = reason_code
            self._cond.notify_all()

    def publish(
        self,
        name: str,
        payload: str | bytes,
        *,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> mqtt.MQTTMessageInfo:
        props = None
        if expiry_s is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = expiry_s
        return self.client.publish(
            name, payload, qos=1, retain=retain, properties=props
        )

    def publish_result(self, info: mqtt.MQTTMessageInfo, timeout: float = 5) -> Any:
        with self._cond:
            assert self._cond.wait_for(
                lambda: info.mid in self.publish_results, timeout
            ), "no PUBACK"
            return self.publish_results[info.mid]

    def send_command(self, door_id: str, payload: str | bytes, **kw: Any) -> None:
        self.publish(messages.topic("landdesk", door_id, "cmd"), payload, **kw)

    def wait_for(
        self,
        predicate: Callable[[Received], bool],
        timeout: float = 5.0,
    ) -> Received | None:
        with self._cond:
            found: list[Received] = []

            def match() -> bool:
                found[:] = [m for m in self.received if predicate(m)]
                return bool(found)

            self._cond.wait_for(match, timeout)
            return found[0] if found else None

    def on(self, door_id: str, kind: str) -> list[Received]:
        name = messages.topic("landdesk", door_id, kind)
        with self._cond:
            return [m for m in self.received if m.topic == name]

    def wait_ack(self, door: Door, command_id: str, timeout: float = 5.0):
        name = messages.topic("landdesk", door.id, "ack")
        msg = self.wait_for(
            lambda m: m.topic == name and m.json().get("id") == command_id, timeout
        )
        assert msg is not None, f"no ack for {command_id}"
        return messages.parse_ack(msg.payload, door.secret, door_id=door.id)

    def wait_event(self, door: Door, type: str, timeout: float = 5.0, **match: Any):
        name = messages.topic("landdesk", door.id, "event")

        def pred(m: Received) -> bool:
            if m.topic != name:
                return False
            obj = m.json()
            return obj["type"] == type and all(
                obj.get(k) == v for k, v in match.items()
            )

        msg = self.wait_for(pred, timeout)
        assert msg is not None, f"no {type} event"
        return messages.parse_event(msg.payload, door.secret, door_id=door.id)

    def events(self, door: Door) -> list[messages.Event]:
        return [
            messages.parse_event(m.payload, door.secret)
            for m in self.on(door.id, "event")
        ]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client.reinitialise()  # closes paho's internal socket pair


@pytest.fixture
def make_probe() -> Iterator[Callable[..., MqttProbe]]:
    probes: list[MqttProbe] = []

    def factory(b: Broker, **kw: Any) -> MqttProbe:
        probe = MqttProbe(b, **kw)
        probes.append(probe)
        return probe

    yield factory
    for probe in probes:
        probe.close()


@pytest.fixture
def server(broker: Broker, make_probe) -> MqttProbe:
    return make_probe(broker)


def door_config(b: Broker, door: Door, state_file: Path, **overrides: Any):
    values: dict[str, Any] = {
        "door_id": door.id,
        "secret": door.secret,
        "mqtt_url": f"mqtt://{door.id}:{door.password}@{b.host}:{b.port}",
        "open_s": 1,
        "max_open_s": 2,
        "clock_skew_s": 1,
        "state_file": str(state_file),
        "session_expiry_s": 60,
    }
    values.update(overrides)
    return ControllerConfig(**values)


@pytest.fixture
def make_controller(tmp_path: Path) -> Iterator[Callable[..., Controller]]:
    controllers: list[Controller] = []

    def factory(
        b: Broker,
        door: Door,
        *,
        connect: bool = True,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> Controller:
        config = door_config(b, door, tmp_path / f"door-{door.id}.json", **overrides)
        relay = None if config.bridge else SimulatedRelay()
        controller = Controller(config, relay=relay, clock=clock)
        controllers.append(controller)
        controller.start()
        if connect:
            assert controller.wait_connected(5), "controller did not connect"
        return controller

    yield factory
    for controller in controllers:
        controller.stop()
