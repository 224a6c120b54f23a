"""Vendor formats, and the controller in bridge mode against simulated devices
that behave as their makers document (see docs/protocol.md for sources)."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices import messages as m
from devices import pins, vendors
from devices.controller import BridgeConfig

SHELLY = "shellyplus1-a8032ab12345"
TASMOTA = "door-relay-1"
NUKI = "3A1B2C4D"

# --- formats ------------------------------------------------------------------


def test_shelly_unlock_is_a_switch_set_rpc_with_toggle_after():
    [(name, payload)] = vendors.unlock_messages("shelly", SHELLY, 4, request_id=17)
    assert name == f"{SHELLY}/rpc"
    assert json.loads(payload) == {
        "id": 17,
        "src": f"landdesk-{SHELLY}",
        "method": "Switch.Set",
        "params": {"id": 0, "on": True, "toggle_after": 4},
    }
    assert f"landdesk-{SHELLY}/rpc" in vendors.status_topics("shelly", SHELLY)


def test_shelly_interpretation():
    shelly = vendors.get_vendor("shelly")
    reply = {"id": 17, "src": SHELLY, "dst": "x", "result": {"was_on": False}}
    status = shelly.interpret(f"landdesk-{SHELLY}/rpc", json.dumps(reply))
    assert status.ack is True and status.request_id == 17
    assert status.device_id == SHELLY
    error = {"id": 17, "src": SHELLY, "error": {"code": -103, "message": "bad"}}
    status = shelly.interpret(f"landdesk-{SHELLY}/rpc", json.dumps(error))
    assert status.ack is False and "-103" in status.reason
    on = shelly.interpret(f"{SHELLY}/status/switch:0", '{"id":0,"output":true}')
    assert on.ack is True and on.open is True
    off = shelly.interpret(f"{SHELLY}/status/switch:0", '{"id":0,"output":false}')
    assert off.ack is None and off.open is False
    notify = {
        "src": SHELLY,
        "method": "NotifyStatus",
        "params": {"ts": 1.0, "switch:0": {"id": 0, "output": True}},
    }
    assert shelly.interpret(f"{SHELLY}/events/rpc", json.dumps(notify)).open is True
    assert shelly.interpret(f"{SHELLY}/online", "false").online is False
    assert shelly.interpret(f"{SHELLY}/status/sys", "{}") is None


@pytest.mark.parametrize(
    ("seconds", "pulsetime"), [(1, 10), (5, 50), (11, 110), (12, 112), (13, 113)]
)
def test_tasmota_pulsetime_encoding(seconds, pulsetime):
    assert vendors.tasmota_pulsetime(seconds) == pulsetime


def test_tasmota_unlock_and_interpretation():
    [(name, payload)] = vendors.unlock_messages("tasmota", TASMOTA, 3, request_id=1)
    assert (name, payload) == (f"cmnd/{TASMOTA}/Backlog", "PulseTime1 30; Power1 ON")
    t = vendors.get_vendor("tasmota")
    assert t.interpret(f"stat/{TASMOTA}/RESULT", '{"POWER":"ON"}').ack is True
    assert t.interpret(f"stat/{TASMOTA}/RESULT", '{"POWER1":"OFF"}').open is False
    assert t.interpret(f"stat/{TASMOTA}/POWER", "ON").ack is True
    assert t.interpret(f"tele/{TASMOTA}/LWT", "Offline").online is False
    tele = t.interpret(f"tele/{TASMOTA}/STATE", '{"POWER":"ON"}')
    assert tele.ack is None and tele.open is True  # telemetry is no answer
    assert t.interpret(f"stat/{TASMOTA}/RESULT", '{"PulseTime1":{"Set":30}}') is None


def test_nuki_unlock_and_interpretation():
    assert vendors.unlock_messages("nuki", NUKI, 3, request_id=1) == [
        (f"nuki/{NUKI}/lockAction", "3")
    ]
    n = vendors.get_vendor("nuki")
    assert n.interpret(f"nuki/{NUKI}/commandResponse", "0").ack is True
    refused = n.interpret(f"nuki/{NUKI}/commandResponse", "17")
    assert refused.ack is False and refused.reason == "nuki_error_17"
    assert n.interpret(f"nuki/{NUKI}/state", "5").open is True
    assert n.interpret(f"nuki/{NUKI}/state", "1").open is False
    assert n.interpret(f"nuki/{NUKI}/connected", "false").online is False
    assert n.interpret(f"nuki/{NUKI}/batteryCritical", "true").battery_low is True
    assert n.interpret(f"nuki/{NUKI}/batteryChargeState", "64").battery == 64
    assert n.interpret(f"nuki/{NUKI}/name", "Front door") is None


def test_unknown_vendor_and_bad_device_ids():
    with pytest.raises(KeyError):
        vendors.get_vendor("acme")
    with pytest.raises(ValueError):
        vendors.unlock_messages("shelly", "a/b", 3, request_id=1)


# --- simulated devices --------------------------------------------------------


class FakeDevice:
    """A vendor device on the broker: its own credentials, LWT, status."""

    user: str
    will: tuple[str, str]
    birth: list[tuple[str, str]]
    subscribe_to: str

    def __init__(self, broker, **behaviour: Any) -> None:
        self.behaviour = behaviour
        self.requests: list[tuple[str, str]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"fake-{self.user}"
        )
        self.client.username_pw_set(self.user, broker.users[self.user])
        self.client.will_set(*self.will, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect_async(broker.host, broker.port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        for name, payload in self.birth:
            client.publish(name, payload, qos=1, retain=True)
        client.subscribe(self.subscribe_to, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        payload = message.payload.decode()
        self.requests.append((message.topic, payload))
        self.handle(message.topic, payload)

    def handle(self, name: str, payload: str) -> None:
        raise NotImplementedError

    def pub(self, name: str, payload: str, retain: bool = False) -> None:
        self.client.publish(name, payload, qos=1, retain=retain)

    def later(self, seconds: float, fn, *args) -> None:
        timer = threading.Timer(seconds, fn, args=args)
        timer.daemon = True
        timer.start()

    def crash(self) -> None:
        """Drop the connection without DISCONNECT, so the broker sends the LWT."""
        self.client.loop_stop()
        self.client.socket().shutdown(socket.SHUT_RDWR)
        self.client.reinitialise()  # closes the sockets without DISCONNECT
        self.crashed = True

    def close(self) -> None:
        if getattr(self, "crashed", False):
            return
        self.client.disconnect()
        self.client.loop_stop()
        self.client.reinitialise()


class FakeShelly(FakeDevice):
    """Shelly Gen2: RPC on <id>/rpc, reply on <src>/rpc, status/switch:0."""

    user = SHELLY
    will = (f"{SHELLY}/online", "false")
    birth = [(f"{SHELLY}/online", "true")]
    subscribe_to = f"{SHELLY}/rpc"

    def handle(self, name: str, payload: str) -> None:
        frame = json.loads(payload)
        reply: dict[str, Any] = {"id": frame["id"], "src": SHELLY, "dst": frame["src"]}
        if self.behaviour.get("fail"):
            reply["error"] = {"code": -103, "message": "Resource unavailable"}
            self.pub(f"{frame['src']}/rpc", json.dumps(reply))
            return
        reply["result"] = {"was_on": False}
        self.pub(f"{frame['src']}/rpc", json.dumps(reply))
        status = f"{SHELLY}/status/switch:0"
        self.pub(status, json.dumps({"id": 0, "source": "MQTT", "output": True}))
        off = json.dumps({"id": 0, "source": "timer", "output": False})
        self.later(frame["params"]["toggle_after"], self.pub, status, off)


class FakeTasmota(FakeDevice):
    """Tasmota: Backlog on cmnd/<topic>/Backlog, replies on stat/<topic>/..."""

    user = TASMOTA
    will = (f"tele/{TASMOTA}/LWT", "Offline")
    birth = [(f"tele/{TASMOTA}/LWT", "Online")]
    subscribe_to = f"cmnd/{TASMOTA}/#"

    def handle(self, name: str, payload: str) -> None:
        assert name == f"cmnd/{TASMOTA}/Backlog"
        pulse = 0
        for command in (c.strip() for c in payload.split(";")):
            key, _, value = command.partition(" ")
            if key.lower() == "pulsetime1":
                pulse = int(value)
                result = {"PulseTime1": {"Set": pulse, "Remaining": 0}}
                self.pub(f"stat/{TASMOTA}/RESULT", json.dumps(result))
            elif key.lower() == "power1" and value.upper() == "ON":
                self.pub(f"stat/{TASMOTA}/RESULT", '{"POWER":"ON"}')
                self.pub(f"stat/{TASMOTA}/POWER", "ON")
                seconds = pulse / 10 if pulse <= 111 else pulse - 100
                self.later(
                    seconds, self.pub, f"stat/{TASMOTA}/RESULT", '{"POWER":"OFF"}'
                )


class FakeNuki(FakeDevice):
    """Nuki Smart Lock: lockAction, commandResponse, state, connected."""

    user = f"nuki-{NUKI}"
    will = (f"nuki/{NUKI}/connected", "false")
    birth = [
        (f"nuki/{NUKI}/connected", "true"),
        (f"nuki/{NUKI}/state", "1"),
        (f"nuki/{NUKI}/batteryCritical", "false"),
        (f"nuki/{NUKI}/batteryChargeState", "87"),
    ]
    subscribe_to = f"nuki/{NUKI}/lockAction"

    def handle(self, name: str, payload: str) -> None:
        if self.behaviour.get("jammed"):
            self.pub(f"nuki/{NUKI}/state", "254", retain=True)
            self.pub(f"nuki/{NUKI}/commandResponse", "7")
            return
        assert payload == "3"
        self.pub(f"nuki/{NUKI}/state", "7", retain=True)
        self.pub(f"nuki/{NUKI}/commandResponse", "0")
        self.pub(f"nuki/{NUKI}/state", "5", retain=True)
        self.later(1, self.pub, f"nuki/{NUKI}/state", "3", True)


DEVICES = {
    "shelly": (FakeShelly, SHELLY),
    "tasmota": (FakeTasmota, TASMOTA),
    "nuki": (FakeNuki, NUKI),
}


@pytest.fixture
def fake_device(broker):
    made: list[FakeDevice] = []

    def factory(kind: str, **behaviour: Any) -> FakeDevice:
        device = DEVICES[kind][0](broker, **behaviour)
        made.append(device)
        return device

    yield factory
    for device in made:
        device.close()


def bridged(broker, make_door, make_controller, kind: str, **kw: Any):
    door = make_door(broker)
    bridge = BridgeConfig(
        kind=kind,
        device_id=DEVICES[kind][1],
        url=broker.url("landdesk"),
        ack_timeout_s=kw.pop("ack_timeout_s", 3.0),
    )
    controller = make_controller(broker, door, bridge=bridge, **kw)
    assert controller.bridge.connected.wait(5)
    time.sleep(0.2)  # retained vendor status arrives after SUBACK
    return door, controller


@pytest.mark.parametrize("kind", ["shelly", "tasmota", "nuki"])
def test_bridge_unlocks_vendor_device_and_acks_from_its_status(
    kind, broker, server, make_door, make_controller, fake_device
):
    device = fake_device(kind)
    door, controller = bridged(broker, make_door, make_controller, kind)
    cmd = m.make_unlock(door.id, door.secret, open_s=1)
    server.send_command(door.id, cmd.to_json())

    ack = server.wait_ack(door, cmd.id)
    assert ack.ok, ack
    assert len(device.requests) == 1
    sent_topic, sent = device.requests[0]
    if kind == "shelly":
        assert json.loads(sent)["params"] == {"id": 0, "on": True, "toggle_after": 1}
    elif kind == "tasmota":
        assert sent == "PulseTime1 10; Power1 ON"
    else:
        assert (sent_topic, sent) == (f"nuki/{NUKI}/lockAction", "3")
    assert server.wait_event(door, "opened", cmd=cmd.id)
    assert server.wait_event(door, "closed", cmd=cmd.id, timeout=4)
    if kind == "nuki":
        assert controller.bridge.battery == 87


@pytest.mark.parametrize(
    ("kind", "behaviour"), [("shelly", "fail"), ("nuki", "jammed")]
)
def test_bridge_reports_vendor_refusal(
    kind, behaviour, broker, server, make_door, make_controller, fake_device
):
    fake_device(kind, **{behaviour: True})
    door, _ = bridged(broker, make_door, make_controller, kind)
    cmd = m.make_unlock(door.id, door.secret, open_s=1)
    server.send_command(door.id, cmd.to_json())
    ack = server.wait_ack(door, cmd.id)
    assert not ack.ok and ack.reason == "device_refused"
    refused = server.wait_event(door, "unlock_refused", cmd=cmd.id)
    assert (
        "shelly_error_-103" if kind == "shelly" else "nuki_error_7"
    ) in refused.reason


def test_bridge_times_out_without_device(broker, server, make_door, make_controller):
    door, _ = bridged(broker, make_door, make_controller, "tasmota", ack_timeout_s=1)
    cmd = m.make_unlock(door.id, door.secret, open_s=1)
    server.send_command(door.id, cmd.to_json())
    ack = server.wait_ack(door, cmd.id)
    assert not ack.ok and ack.reason == "device_timeout"


def test_bridge_marks_door_offline_when_vendor_device_drops(
    broker, server, make_door, make_controller, fake_device
):
    device = fake_device("shelly")
    door, controller = bridged(broker, make_door, make_controller, "shelly")
    device.crash()
    assert server.wait_for(
        lambda r: (
            r.topic.endswith(f"/{door.id}/state")
            and r.json()["status"] == "offline"
            and "sig" in r.json()
        ),
        timeout=5,
    )
    cmd = m.make_unlock(door.id, door.secret, open_s=1)
    server.send_command(door.id, cmd.to_json())
    ack = server.wait_ack(door, cmd.id)
    assert not ack.ok and ack.reason == "device_error"
    assert len(device.requests) == 0


def test_refused_command_never_reaches_vendor_device(
    broker, server, make_door, make_controller, fake_device
):
    device = fake_device("tasmota")
    door, _ = bridged(broker, make_door, make_controller, "tasmota")
    forged = m.make_unlock(door.id, m.new_secret(), open_s=1)
    server.send_command(door.id, forged.to_json())
    assert server.wait_ack(door, forged.id).reason == "bad_signature"
    time.sleep(0.3)
    assert device.requests == []


def test_pin_in_bridge_mode_drives_vendor_device(
    broker, server, make_door, make_controller, fake_device
):
    device = fake_device("nuki")
    door, controller = bridged(broker, make_door, make_controller, "nuki")
    now = time.time()
    assert controller.enter_pin(
        pins.offline_pin(door.secret, door.id, now, now + 1800, index=0)
    )
    assert server.wait_event(door, "opened")
    assert device.requests == [(f"nuki/{NUKI}/lockAction", "3")]
