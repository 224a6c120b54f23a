"""The embedded demo broker (devices/embedded_broker.py), run as its own
process (``python -m devices.embedded_broker``) with the deploy ACL, against
paho-mqtt clients, the reference controller and the service's DoorLink."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices import messages as m
from devices.broker_acl import Acl, topic_matches
from tests.support.doors import VENDOR_USERS
from tests.support.mosquitto import DEPLOY_ACL

ROOT = Path(__file__).resolve().parents[2]
NOT_AUTHORIZED = 135
SERVICE_USER, SERVICE_PASSWORD = "landdesk", "service-pw"


@dataclass(frozen=True)
class Door:
    id: str
    password: str
    secret: str


DOOR_A = Door("21", "door-a-pw", m.new_secret())
DOOR_B = Door("22", "door-b-pw", m.new_secret())


@dataclass
class EmbeddedBroker:
    """Quacks like tests.support.mosquitto.Broker for the conftest fixtures."""

    process: subprocess.Popen[str]
    port: int
    users: dict[str, str]
    host: str = "127.0.0.1"

    def url(self, user: str) -> str:
        return f"mqtt://{user}:{self.users[user]}@{self.host}:{self.port}"


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    users = {
        SERVICE_USER: SERVICE_PASSWORD,
        **VENDOR_USERS,
        DOOR_A.id: DOOR_A.password,
        DOOR_B.id: DOOR_B.password,
    }
    users_file = tmp_path / "passwd"
    users_file.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    process = subprocess.Popen(
        [sys.executable, "-m", "devices.embedded_broker", "--port", "0"]
        + ["--users", str(users_file), "--acl", str(DEPLOY_ACL)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "embedded MQTT broker listening on h:p"
    assert "listening on" in line, line
    yield EmbeddedBroker(process, int(line.rsplit(":", 1)[1]), users)
    process.terminate()
    assert process.wait(5) == 0
    process.stdout.close()


@dataclass
class Client:
    """A paho MQTT v5 client that records what it receives."""

    broker: EmbeddedBroker
    user: str = SERVICE_USER
    client_id: str = ""
    password: str | None = None
    clean_start: bool = True
    session_expiry: int | None = None
    will: tuple[str, str] | None = None
    received: list[mqtt.MQTTMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id or f"test-{time.time_ns()}",
            protocol=mqtt.MQTTv5,
        )
        password = self.password or self.broker.users.get(self.user, "")
        self.client.username_pw_set(self.user, password)
        if self.will:
            self.client.will_set(*self.will, qos=1, retain=True)
        self.cond = threading.Condition()
        self.connack: tuple[bool, ReasonCode] | None = None
        self.acks: dict[int, ReasonCode] = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.suback: list[ReasonCode] = []

    def connect(self) -> Client:
        props = None
        if self.session_expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry
        self.client.connect(
            self.broker.host,
            self.broker.port,
            clean_start=self.clean_start,
            properties=props,
        )
        self.client.loop_start()
        self.wait(lambda: self.connack is not None)
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        with self.cond:
            self.connack = (flags.session_present, reason_code)
            self.cond.notify_all()

    def _on_message(self, client, userdata, message) -> None:
        with self.cond:
            self.received.append(message)
            self.cond.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self.cond:
            self.acks[mid] = reason_code
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self.cond:
            self.suback = list(reason_codes)
            self.cond.notify_all()

    def wait(self, predicate, timeout: float = 5.0) -> Any:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), "timed out"

    def subscribe(self, name: str, qos: int = 1, **options: Any) -> Client:
        self.suback = []
        self.client.subscribe(name, options=SubscribeOptions(qos=qos, **options))
        self.wait(lambda: self.suback)
        return self

    def publish(
        self, name: str, payload: str | bytes, *, retain=False, expiry=None, qos=1
    ) -> ReasonCode | None:
        props = None
        if expiry is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = expiry
        info = self.client.publish(
            name, payload, qos=qos, retain=retain, properties=props
        )
        if qos == 0:
            return None
        self.wait(lambda: info.mid in self.acks)
        return self.acks[info.mid]

    def payloads(self, name: str | None = None) -> list[bytes]:
        with self.cond:
            return [bytes(x.payload) for x in self.received if name in (None, x.topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client.reinitialise()


@pytest.fixture
def connect(embedded) -> Iterator[Any]:
    clients: list[Client] = []

    def make(user: str = SERVICE_USER, **kw: Any) -> Client:
        client = Client(embedded, user, **kw)
        clients.append(client)
        return client.connect()

    yield make
    for client in clients:
        client.close()


def _settle() -> None:
    time.sleep(0.3)  # long enough for a loopback delivery that should not come


def test_users_file_decides_who_connects_and_mqtt_3_is_refused(embedded, connect):
    ok = connect(SERVICE_USER)
    assert ok.connack is not None and ok.connack[1].value == 0
    assert connect(SERVICE_USER, password="wrong").connack[1].value == 134
    assert connect("nobody", password="x").connack[1].value == 134
    anonymous = Client(embedded, user="")
    anonymous.client.username_pw_set(None)
    anonymous.connect()
    assert anonymous.connack is not None and anonymous.connack[1].value == 135
    anonymous.close()
    old = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    old.username_pw_set(SERVICE_USER, SERVICE_PASSWORD)
    codes: list[ReasonCode] = []
    done = threading.Event()
    old.on_connect = lambda c, u, f, rc, p: (codes.append(rc), done.set())
    old.connect(embedded.host, embedded.port)
    old.loop_start()
    assert done.wait(5) and codes[0].is_failure
    old.loop_stop()


def test_qos1_round_trip_is_not_held_back_by_nagle(connect):
    # The broker writes the delivery (QoS 0: no answer) and the PUBACK back
    # to back: without TCP_NODELAY the second waits for a delayed TCP ACK.
    client = connect().subscribe("landdesk/rtt", qos=0)
    client.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for n in range(21):
        started = time.perf_counter()
        assert client.publish("landdesk/rtt", str(n)).value == 0
        client.wait(lambda n=n: len(client.received) == n + 1)
        times.append(time.perf_counter() - started)
    assert sorted(times)[10] < 0.015, times


def test_wildcards_and_shared_subscriptions(connect):
    single = connect().subscribe("landdesk/doors/+/ack")
    everything = connect().subscribe("#")
    members = [
        connect().subscribe("$share/workers/landdesk/doors/+/event") for _ in range(2)
    ]
    door = connect(DOOR_A.id)
    for n in range(6):
        assert door.publish(f"landdesk/doors/{DOOR_A.id}/event", f"e{n}").value == 0
    door.publish(f"landdesk/doors/{DOOR_A.id}/ack", "a")
    everything.wait(lambda: len(everything.received) == 7)
    _settle()
    assert single.payloads() == [b"a"]
    shared = [member.payloads() for member in members]
    # Each event reaches exactly one member of the group, both get work.
    assert sorted(shared[0] + shared[1]) == [f"e{n}".encode() for n in range(6)]
    assert shared[0] and shared[1]
    assert [topic_matches(f, "a/b") for f in ("a/#", "#", "a/+", "+/+/+", "a")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert not topic_matches("#", "$SYS/x") and topic_matches("a/#", "a")


def test_retained_messages_retain_as_published_and_the_will(connect):
    state = f"landdesk/doors/{DOOR_A.id}/state"
    door = connect(DOOR_A.id, will=(state, "offline-will"))
    assert door.publish(state, "online", retain=True).value == 0
    live = connect().subscribe(state)
    as_published = connect().subscribe(state, retainAsPublished=True)
    live.wait(lambda: live.received)
    # On subscribing: the retained message, flagged retained.
    assert [(bytes(x.payload), x.retain) for x in live.received] == [(b"online", 1)]
    door.publish(state, "online-2", retain=True)
    live.wait(lambda: len(live.received) == 2)
    as_published.wait(lambda: len(as_published.received) == 2)
    assert not live.received[1].retain  # live delivery: the flag is cleared...
    assert as_published.received[1].retain  # ...unless Retain As Published
    # A crash (the socket goes away without DISCONNECT) publishes the will.
    door.client.socket().shutdown(socket.SHUT_RDWR)
    live.wait(lambda: live.payloads()[-1:] == [b"offline-will"])
    late = connect().subscribe(state)
    late.wait(lambda: late.received)
    assert late.payloads() == [b"offline-will"] and late.received[0].retain
    # A clean DISCONNECT sends no will; an empty retained payload clears.
    b_state = f"landdesk/doors/{DOOR_B.id}/state"
    connect(DOOR_B.id, will=(b_state, "gone")).close()
    door_b = connect(DOOR_B.id)
    door_b.publish(b_state, "b-online", retain=True)
    door_b.publish(b_state, "", retain=True)
    _settle()
    every_state = connect().subscribe("landdesk/doors/+/state")
    _settle()
    assert every_state.payloads() == [b"offline-will"]


def test_qos1_acks_and_a_persistent_session_gets_what_it_missed(connect):
    first = connect(
        client_id="listener", clean_start=False, session_expiry=60
    ).subscribe("landdesk/doors/+/event")
    assert first.connack is not None and first.connack[0] is False
    door = connect(DOOR_A.id)
    topic = f"landdesk/doors/{DOOR_A.id}/event"
    assert door.publish(topic, "while-online").value == 0
    first.wait(lambda: first.payloads() == [b"while-online"])
    first.close()
    door.publish(topic, "qos0-away", qos=0)
    assert door.publish(topic, "while-away").value == 0  # after the QoS 0 one
    again = connect(client_id="listener", clean_start=False, session_expiry=60)
    again.wait(lambda: again.payloads())
    _settle()
    assert again.payloads() == [b"while-away"]  # QoS 0 is not kept for it
    assert again.connack is not None and again.connack[0] is True
    # A clean start throws the session away.
    again.close()
    door.publish(topic, "lost")
    fresh = connect(client_id="listener", clean_start=True, session_expiry=60)
    _settle()
    assert fresh.connack is not None and fresh.connack[0] is False
    assert fresh.payloads() == []


def test_message_expiry_drops_stale_messages_and_counts_down(connect):
    away = connect(client_id="door-away", clean_start=False, session_expiry=60)
    away.subscribe("landdesk/doors/+/cmd")
    away.close()
    service = connect()
    topic = f"landdesk/doors/{DOOR_A.id}/cmd"
    service.publish(topic, "stale", expiry=1)
    service.publish(topic, "fresh", expiry=30)
    service.publish("landdesk/retained", "short-lived", retain=True, expiry=1)
    time.sleep(1.6)
    back = connect(client_id="door-away", clean_start=False, session_expiry=60)
    back.wait(lambda: back.payloads())
    _settle()
    assert back.payloads() == [b"fresh"]
    left = back.received[0].properties.MessageExpiryInterval
    assert 25 <= left <= 29  # 30 s minus the time it waited in the broker
    assert connect().subscribe("landdesk/retained").payloads() == []


def test_acl_keeps_doors_apart(connect):
    service = connect().subscribe("landdesk/doors/+/ack")
    door_a = connect(DOOR_A.id)
    door_a.subscribe(f"landdesk/doors/{DOOR_B.id}/cmd")
    door_a.subscribe("#")
    assert service.publish(f"landdesk/doors/{DOOR_B.id}/cmd", "for-b").value == 0
    assert service.publish(f"landdesk/doors/{DOOR_A.id}/cmd", "for-a").value == 0
    door_a.wait(lambda: door_a.payloads())
    _settle()
    assert door_a.payloads() == [b"for-a"]  # never B's command
    b_ack = f"landdesk/doors/{DOOR_B.id}/ack"
    assert door_a.publish(b_ack, "forged").value == NOT_AUTHORIZED
    assert door_a.publish(f"landdesk/doors/{DOOR_A.id}/cmd", "x").value == 135
    assert door_a.publish(f"landdesk/doors/{DOOR_A.id}/ack", "mine").value == 0
    tasmota = connect("door-relay-1")
    assert tasmota.publish("cmnd/door-relay-1/POWER", "ON").value == NOT_AUTHORIZED
    assert service.publish("cmnd/door-relay-1/POWER", "ON").value == 0
    service.wait(lambda: service.payloads())
    _settle()
    assert service.payloads() == [b"mine"]


def test_acl_parser_follows_mosquitto():
    acl = Acl.parse(
        "topic read before/any/user\n"
        "user svc\ntopic readwrite a/#\ntopic b\ntopic write c/+\n"
        "pattern read doors/%u/cmd\n"
    )
    assert acl.allows("svc", "a/x/y", "write") and acl.allows("svc", "a", "read")
    assert acl.allows("svc", "b", "read") and acl.allows("svc", "b", "write")
    assert acl.allows("svc", "c/1", "write") and not acl.allows("svc", "c/1", "read")
    assert acl.allows("7", "doors/7/cmd", "read")
    assert not acl.allows("7", "doors/7/cmd", "write")
    assert not acl.allows("7", "doors/8/cmd", "read")
    assert not acl.allows("+", "doors/+/cmd", "read")  # no wildcard user names
    assert not acl.allows("x", "before/any/user", "read")
    with pytest.raises(ValueError):
        Acl.parse("user x\ntopics read y\n")


def test_reference_controller_and_service_link_open_a_door(
    embedded, connect, make_controller
):
    from booking.access.mqtt import DoorLink

    controller = make_controller(embedded, DOOR_A)
    service = connect().subscribe("landdesk/doors/#")
    service.wait(lambda: service.received)
    state = service.received[0]
    assert state.retain and m.parse_state(state.payload, DOOR_A.secret).status
    # A signed command through the broker opens the door; the ack verifies.
    command = m.make_unlock(DOOR_A.id, DOOR_A.secret, open_s=1)
    service.publish(f"landdesk/doors/{DOOR_A.id}/cmd", command.to_json(), expiry=5)
    assert controller.relay.wait_for_pulse(1)
    service.wait(lambda: service.payloads(f"landdesk/doors/{DOOR_A.id}/ack"))
    (ack,) = service.payloads(f"landdesk/doors/{DOOR_A.id}/ack")
    assert m.parse_ack(ack, DOOR_A.secret, door_id=DOOR_A.id).ok
    # A retained command reaches it flagged (Retain As Published): refused.
    retained = m.make_unlock(DOOR_A.id, DOOR_A.secret, open_s=1)
    service.publish(f"landdesk/doors/{DOOR_A.id}/cmd", retained.to_json(), retain=True)
    service.wait(lambda: len(service.payloads(f"landdesk/doors/{DOOR_A.id}/ack")) == 2)
    refusal = m.parse_ack(
        service.payloads(f"landdesk/doors/{DOOR_A.id}/ack")[1], DOOR_A.secret
    )
    assert (refusal.ok, refusal.reason) == (False, "retained")
    service.publish(f"landdesk/doors/{DOOR_A.id}/cmd", "", retain=True)
    # The booking service's own link (shared subscription, expiry, acks).
    link = DoorLink(embedded.url(SERVICE_USER), connect_grace_s=5).start()
    try:
        assert link.connected.wait(5)
        outcome = link.unlock(DOOR_A.id, DOOR_A.secret, open_s=1, timeout_s=3)
        assert outcome.status == "opened", outcome
    finally:
        link.stop()
    assert len(controller.relay.pulses) == 2
