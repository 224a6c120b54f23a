"""The reference controller against a real Mosquitto with the deploy ACL.

A test-side paho client plays the booking service; the relay is simulated.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from devices import messages as m
from devices.controller import Controller


def test_allowed_unlock_pulses_relay_acks_and_reports(
    broker, server, make_door, make_controller
):
    door = make_door(broker)
    controller: Controller = make_controller(broker, door)
    state = server.wait_for(lambda r: r.topic.endswith(f"/{door.id}/state"))
    assert state is not None
    assert m.parse_state(state.payload, door.secret).status == "online"

    cmd = m.make_unlock(door.id, door.secret, open_s=1)
    server.send_command(door.id, cmd.to_json())

    ack = server.wait_ack(door, cmd.id)
    assert ack.ok and ack.reason is None
    assert controller.relay.wait_for_pulse(1)
    assert [p.seconds for p in controller.relay.pulses] == [1.0]
    opened = server.wait_event(door, "opened", cmd=cmd.id)
    closed = server.wait_event(door, "closed", cmd=cmd.id, timeout=4)
    assert not opened.offline and closed.ts >= opened.ts
    assert not controller.relay.is_on
    assert controller.store.seen[cmd.id] == cmd.exp + 1
    sock = controller.client.socket()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_open_time_is_clamped_to_max_open_s(broker, server, make_door, make_controller):
    door = make_door(broker)
    controller = make_controller(broker, door, max_open_s=2)
    cmd = m.make_unlock(door.id, door.secret, open_s=30)
    server.send_command(door.id, cmd.to_json())
    assert server.wait_ack(door, cmd.id).ok
    assert [p.seconds for p in controller.relay.pulses] == [2.0]


def _signed(obj: dict, secret: str) -> str:
    obj = dict(obj)
    obj["sig"] = m.sign(obj, secret)
    return json.dumps(obj)


@pytest.mark.parametrize(
    "case",
    ["forged", "wrong_door", "expired", "too_long", "replay", "retained", "junk"],
)
def test_refused_commands_never_pulse(case, broker, server, make_door, make_controller):
    door = make_door(broker)
    controller = make_controller(broker, door)
    now = int(time.time())
    good = m.make_unlock(door.id, door.secret, open_s=1)
    retain = False
    expected = case
    if case == "forged":
        payload = _signed(good.to_dict(), m.new_secret())
        expected = "bad_signature"
    elif case == "wrong_door":
        payload = m.make_unlock("99999", door.secret, open_s=1, command_id=good.id)
        payload = payload.to_json()
    elif case == "expired":
        payload = m.make_unlock(
            door.id, door.secret, open_s=1, ttl_s=5, now=now - 20, command_id=good.id
        ).to_json()
    elif case == "too_long":
        payload = _signed(good.to_dict() | {"iat": now, "exp": now + 31}, door.secret)
        expected = "expired"
    elif case == "replay":
        server.send_command(door.id, good.to_json())
        assert server.wait_ack(door, good.id).ok
        assert controller.relay.wait_for_off(3)
        server.received.clear()
        payload = good.to_json()
    elif case == "retained":
        payload = good.to_json()
        retain = True
    else:
        payload = '{"id": "' + good.id + '", "v": 1, "action": "unlock"}'
        expected = "malformed"
    pulses_before = len(controller.relay.pulses)

    server.send_command(door.id, payload, retain=retain)
    try:
        ack = server.wait_ack(door, good.id)
        assert not ack.ok
        assert ack.reason == expected
        refused = server.wait_event(door, "unlock_refused", cmd=good.id)
        assert refused.reason.startswith(expected)
        time.sleep(0.2)
        assert len(controller.relay.pulses) == pulses_before
        assert not controller.relay.is_on
    finally:
        if retain:
            server.send_command(door.id, b"", retain=True)  # clear it


def test_retained_command_is_refused_when_a_door_subscribes(
    broker, server, make_door, make_controller
):
    door = make_door(broker)
    cmd = m.make_unlock(door.id, door.secret, open_s=1, ttl_s=30)
    server.send_command(door.id, cmd.to_json(), retain=True)
    try:
        controller = make_controller(broker, door)
        ack = server.wait_ack(door, cmd.id)
        assert not ack.ok and ack.reason == "retained"
        assert controller.relay.pulses == []
    finally:
        server.send_command(door.id, b"", retain=True)


def test_command_delayed_by_broker_outage_is_refused_as_expired(
    private_broker, make_probe, make_door, make_controller
):
    """The service publishes while the broker is down; paho queues the QoS 1
    message and delivers it after the broker is back, past its exp."""
    door = make_door(private_broker)
    server = make_probe(private_broker)
    controller = make_controller(private_broker, door)

    private_broker.stop()
    cmd = m.make_unlock(door.id, door.secret, open_s=1, ttl_s=1)
    server.send_command(door.id, cmd.to_json())  # rc = not connected, queued
    time.sleep(cmd.exp + 1 + 1.2 - time.time())  # past exp + clock skew
    private_broker.start()

    ack = server.wait_ack(door, cmd.id, timeout=15)
    assert not ack.ok and ack.reason == "expired"
    assert controller.relay.pulses == []


def test_command_queued_for_disconnected_door_is_refused_as_expired(
    broker, server, make_door, make_controller
):
    """The door's persistent session keeps a command while the door is away;
    the broker hands it over on reconnect, too late to open."""
    door = make_door(broker)
    first = make_controller(broker, door)
    first.stop()

    late = m.make_unlock(door.id, door.secret, open_s=1, ttl_s=1)
    server.send_command(door.id, late.to_json())
    # With MQTT v5 message expiry the broker drops it by itself.
    dropped = m.make_unlock(door.id, door.secret, open_s=1, ttl_s=1)
    server.send_command(door.id, dropped.to_json(), expiry_s=1)
    time.sleep(late.exp + 1 + 1.2 - time.time())

    second = make_controller(broker, door)
    ack = server.wait_ack(door, late.id)
    assert not ack.ok and ack.reason == "expired"
    time.sleep(0.3)
    assert not [r for r in server.on(door.id, "ack") if r.json()["id"] == dropped.id]
    assert second.relay.pulses == []


def test_seen_ids_survive_a_restart(broker, server, make_door, make_controller):
    door = make_door(broker)
    first = make_controller(broker, door)
    cmd = m.make_unlock(door.id, door.secret, open_s=1, ttl_s=10)
    server.send_command(door.id, cmd.to_json())
    assert server.wait_ack(door, cmd.id).ok
    first.stop()
    server.received.clear()

    second = make_controller(broker, door)
    server.send_command(door.id, cmd.to_json())
    ack = server.wait_ack(door, cmd.id)
    assert not ack.ok and ack.reason == "replay"
    assert second.relay.pulses == []


def test_stop_publishes_retained_offline_and_will_covers_crashes(
    broker, make_probe, make_door, make_controller
):
    door = make_door(broker)
    controller = make_controller(broker, door)
    controller.stop()
    late = make_probe(broker)  # joins afterwards: sees the retained state
    msg = late.wait_for(lambda r: r.topic.endswith(f"/{door.id}/state"))
    assert msg is not None and msg.retain
    assert m.parse_state(msg.payload, door.secret).status == "offline"

    crashing = make_controller(broker, door)
    assert late.wait_for(
        lambda r: (
            r.topic.endswith(f"/{door.id}/state") and r.json()["status"] == "online"
        )
    )
    late.received.clear()
    # Cut the network without DISCONNECT: the broker publishes the will.
    crashing.client.socket().shutdown(socket.SHUT_RDWR)
    will = late.wait_for(
        lambda r: (
            r.topic.endswith(f"/{door.id}/state")
            and r.json() == {"door": door.id, "status": "offline"}
        ),
        timeout=10,
    )
    assert will is not None
    # ...and the controller reconnects by itself and is online again.
    assert late.wait_for(
        lambda r: (
            r.topic.endswith(f"/{door.id}/state") and r.json()["status"] == "online"
        ),
        timeout=10,
    )


def test_held_open_and_tamper_inputs_raise_events(
    broker, server, make_door, make_controller
):
    door = make_door(broker)
    controller = make_controller(broker, door, held_open_alert_s=0.3)
    controller.set_door_open(True)
    held = server.wait_event(door, "held_open")
    assert "0.3" in held.reason
    controller.set_door_open(False)
    controller.set_door_open(True)
    controller.set_door_open(False)  # closed in time: no second alert
    controller.report_tamper("enclosure opened")
    assert server.wait_event(door, "tamper").reason == "enclosure opened"
    time.sleep(0.5)
    assert [e.type for e in server.events(door)].count("held_open") == 1


def test_config_from_toml_and_no_secret_in_repr(tmp_path):
    from devices.controller import ControllerConfig

    secret = m.new_secret()
    path = tmp_path / "door.toml"
    (tmp_path / "door.secret").write_text(secret + "\n")
    path.write_text(
        '[mqtt]\nurl = "mqtts://7:pw@broker.example:8883"\n'
        '[door]\nid = 7\nsecret_file = "door.secret"\nstate_file = "s.json"\n'
        '[bridge]\nkind = "nuki"\ndevice_id = "3A1B2C4D"\n'
        'url = "mqtt://landdesk:pw@10.0.0.2"\n'
    )
    config = ControllerConfig.from_toml(path)
    assert config.door_id == "7" and config.secret == secret
    assert config.state_file == str(tmp_path / "s.json")
    assert config.bridge.kind == "nuki"
    assert secret not in repr(config) and "pw" not in repr(config)
    with pytest.raises(ValueError):
        ControllerConfig(door_id="7", secret=secret, mqtt_url="http://x")
    with pytest.raises(ValueError):
        ControllerConfig(door_id="7", secret=secret, mqtt_url="mqtt://x", open_s=99)
