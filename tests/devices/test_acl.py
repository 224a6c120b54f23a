"""The deploy ACL (deploy/mosquitto/acl) on a real Mosquitto, with MQTT v5 so
that refused publishes come back as "Not authorized"."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices import messages as m

NOT_AUTHORIZED = 135
VENDOR_COMMANDS = [
    ("cmnd/door-relay-1/POWER", "ON"),
    ("cmnd/door-relay-1/Backlog", "PulseTime1 50; Power1 ON"),
    ("shellyplus1-a8032ab12345/rpc", '{"id":1,"src":"x","method":"Switch.Set"}'),
    ("nuki/3A1B2C4D/lockAction", "3"),
]


def _code(probe, name: str, payload: str) -> int:
    """PUBACK reason: < 128 accepted (0, or 16 "no matching subscribers")."""
    return probe.publish_result(probe.publish(name, payload)).value


def test_door_receives_only_its_own_commands(broker, server, make_door, make_probe):
    a, b = make_door(broker), make_door(broker)
    spy = make_probe(
        broker,
        user=a.id,
        subscriptions=(f"landdesk/doors/{b.id}/cmd", f"landdesk/doors/{a.id}/cmd"),
    )
    wildcard = make_probe(broker, user=a.id, subscriptions=("landdesk/#", "#"))
    server.send_command(b.id, "for-b")
    server.send_command(a.id, "for-a")
    assert spy.wait_for(lambda r: r.payload == b"for-a")
    assert wildcard.wait_for(lambda r: r.payload == b"for-a")
    time.sleep(0.3)
    assert [r.payload for r in spy.received] == [b"for-a"]
    assert b"for-b" not in [r.payload for r in wildcard.received]


def test_door_cannot_read_other_doors_acks_or_events(broker, make_door, make_probe):
    a, b = make_door(broker), make_door(broker)
    spy = make_probe(broker, user=a.id, subscriptions=("landdesk/doors/+/+",))
    door_b = make_probe(broker, user=b.id, subscriptions=())
    ack = m.make_ack("x1", b.id, b.secret, ok=True)
    assert _code(door_b, m.topic("landdesk", b.id, "ack"), ack.to_json()) < 128
    time.sleep(0.3)
    assert spy.received == []


@pytest.mark.parametrize("kind", ["ack", "state", "event", "cmd", "revoked"])
def test_door_cannot_write_another_doors_topics(
    kind, broker, server, make_door, make_probe
):
    a, b = make_door(broker), make_door(broker)
    door_a = make_probe(broker, user=a.id, subscriptions=())
    assert _code(door_a, m.topic("landdesk", b.id, kind), "{}") == NOT_AUTHORIZED
    if kind not in ("cmd", "revoked"):
        assert _code(door_a, m.topic("landdesk", a.id, kind), "{}") < 128
    else:  # a door cannot command itself or revoke its own PINs either
        assert _code(door_a, m.topic("landdesk", a.id, kind), "{}") == NOT_AUTHORIZED
    time.sleep(0.2)
    assert not server.on(b.id, kind)


@pytest.mark.parametrize(("name", "payload"), VENDOR_COMMANDS)
def test_only_the_service_writes_vendor_command_topics(
    name, payload, broker, make_door, make_probe
):
    door = make_probe(broker, user=make_door(broker).id, subscriptions=())
    assert _code(door, name, payload) == NOT_AUTHORIZED
    for vendor_user in ("door-relay-1", "shellyplus1-a8032ab12345", "nuki-3A1B2C4D"):
        device = make_probe(broker, user=vendor_user, subscriptions=())
        assert _code(device, name, payload) == NOT_AUTHORIZED, vendor_user
    service = make_probe(broker, subscriptions=())
    assert _code(service, name, payload) < 128


def test_vendor_devices_write_only_their_status_topics(broker, make_probe):
    tasmota = make_probe(broker, user="door-relay-1", subscriptions=())
    assert _code(tasmota, "stat/door-relay-1/POWER", "ON") < 128
    assert _code(tasmota, "tele/door-relay-1/LWT", "Online") < 128
    assert _code(tasmota, "stat/other-relay/POWER", "ON") == NOT_AUTHORIZED
    assert _code(tasmota, "landdesk/doors/7/ack", "{}") == NOT_AUTHORIZED
    shelly = make_probe(broker, user="shellyplus1-a8032ab12345", subscriptions=())
    assert _code(shelly, "landdesk-shellyplus1-a8032ab12345/rpc", "{}") < 128
    assert _code(shelly, "shellyplus1-a8032ab12345/status/switch:0", "{}") < 128
    assert _code(shelly, "landdesk-shellyplus1-other/rpc", "{}") == NOT_AUTHORIZED
    nuki = make_probe(broker, user="nuki-3A1B2C4D", subscriptions=())
    assert _code(nuki, "nuki/3A1B2C4D/state", "5") < 128
    assert _code(nuki, "nuki/FFFFFFFF/lockAction", "3") == NOT_AUTHORIZED


def test_anonymous_and_wrong_password_are_refused(broker):
    for credentials in (None, ("landdesk", "wrong")):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if credentials:
            client.username_pw_set(*credentials)
        refused = threading.Event()
        codes: list[int] = []

        def on_connect(c, userdata, flags, reason_code, props, done=refused, out=codes):
            out.append(reason_code.value)
            done.set()

        client.on_connect = on_connect
        client.connect_async(broker.host, broker.port)
        client.loop_start()
        assert refused.wait(5)
        client.disconnect()
        client.loop_stop()
        client.reinitialise()
        assert codes[0] in (134, 135)  # bad user name or password / not authorized
