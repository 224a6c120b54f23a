"""The service's MQTT link when the network misbehaves, against a real
Mosquitto: a broker that goes silent without a TCP reset (SIGSTOP), and the
``flask doors listen`` process's persistent session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from booking.access.models import AccessEvent
from devices import messages
from tests.support.doors import fresh, wait_until

ROOT = Path(__file__).resolve().parents[3]


def app_results(db) -> list[str]:
    fresh(db)
    rows = db.scalars(
        select(AccessEvent).where(AccessEvent.channel == "app").order_by(AccessEvent.id)
    ).all()
    return [row.result for row in rows]


def test_unlock_into_a_silent_broker_answers_503_within_2s_not_504(
    api, member, door, booking_now, make_controller, link, broker, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    client = api(member)
    url = f"/api/v1/doors/{door_row.id}/unlock"
    assert client.post(url).status_code == 200
    # Freeze the broker: the TCP connections stay open but nothing answers,
    # as after a network cut without a reset.
    broker.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = client.post(url)
        first = time.monotonic() - started
        assert response.status_code == 503, response.get_json()
        assert response.get_json()["error"] == "door_unavailable"
        assert first < 2.0  # the PUBACK did not come within 1 s
        started = time.monotonic()
        assert client.post(url).status_code == 503
        assert time.monotonic() - started < 0.5  # known to be down: at once
        # Let the command sent into the silence go stale (exp + the
        # controller's clock allowance) before the broker wakes up.
        time.sleep(8)
    finally:
        broker.process.send_signal(signal.SIGCONT)
    assert link.connected.wait(20), "the service did not reconnect"
    assert controller.wait_connected(20)
    assert client.post(url).status_code == 200
    time.sleep(0.5)
    assert len(controller.relay.pulses) == 2  # the stale command opened nothing
    assert app_results(db) == ["opened", "unavailable", "unavailable", "opened"]


def test_keepalive_notices_a_silent_broker_within_two_keepalives(link, broker):
    assert link.keepalive == 5
    assert link.connected.is_set()
    started = time.monotonic()
    broker.process.send_signal(signal.SIGSTOP)
    try:
        assert wait_until(lambda: not link.connected.is_set(), 15)
        noticed = time.monotonic() - started
    finally:
        broker.process.send_signal(signal.SIGCONT)
    assert noticed < 11.5, noticed  # was up to 30 s with a 15 s keepalive
    assert link.connected.wait(20), "the service did not reconnect"


# --- the listener's persistent session ---------------------------------------


def door_events(db) -> list[str]:
    fresh(db)
    rows = db.scalars(
        select(AccessEvent)
        .where(AccessEvent.event_id.is_not(None))
        .order_by(AccessEvent.id)
    ).all()
    return [row.event_id for row in rows]


def test_listener_stores_events_sent_while_it_was_down(
    app_config, broker, door, db, tmp_path
):
    door_row, secret = door
    door_id = str(door_row.id)
    broker.add_user(door_id, "door-pw")
    env = {
        **os.environ,
        "LANDDESK_DATABASE_URL": app_config["DATABASE_URL"],
        "LANDDESK_SECRET_KEY": app_config["SECRET_KEY"],
        "LANDDESK_MQTT_URL": broker.url("landdesk"),
    }

    log = open(tmp_path / "listener.log", "ab")  # noqa: SIM115 - closed below

    def listener() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "booking", "doors", "listen"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0

    controller = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    controller.username_pw_set(door_id, "door-pw")

    def send(kind: str) -> str:
        event = messages.make_event(door_id, secret, kind, reason="test")
        controller.publish(
            messages.topic("landdesk", door_id, "event"), event.to_json(), qos=1
        ).wait_for_publish(5)
        return event.id

    def up_and_subscribed() -> bool:
        send("tamper")  # lost until the listener has subscribed once
        time.sleep(0.3)
        return bool(door_events(db))

    process = listener()
    try:
        controller.connect(broker.host, broker.port)
        controller.loop_start()
        assert wait_until(up_and_subscribed, 20), (
            tmp_path / "listener.log"
        ).read_text()
        # Let the listener store every tamper event sent while it came up
        # (a slow machine takes longer than one pause).
        stored = door_events(db)
        for _ in range(20):
            time.sleep(0.5)
            if door_events(db) == stored:
                break
            stored = door_events(db)
        stop(process)
        missed = [send("opened"), send("closed")]
        time.sleep(0.5)
        assert door_events(db) == stored  # nobody stored them yet
        process = listener()
        assert wait_until(lambda: door_events(db) == stored + missed, 15)
        # The session survives a broker restart too (clean_start=False from
        # the first connect, a non-shared subscription).
        stop(process)
        broker.restart()
        controller.reconnect()
        assert wait_until(controller.is_connected, 10)
        after_restart = send("opened")
        process = listener()
        assert wait_until(
            lambda: door_events(db) == [*stored, *missed, after_restart], 15
        )
    finally:
        controller.disconnect()
        controller.loop_stop()
        if process.poll() is None:
            stop(process)
        log.close()
