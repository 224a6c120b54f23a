"""Two app hosts against one database, one Redis and one broker.

Each "host" is its own gunicorn (two workers) on its own port; the door is the
reference controller with a simulated relay; door listeners and job runners
are separate ``flask`` processes, as on separate machines.
"""

from __future__ import annotations

import http.client
import json
import secrets
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from devices.controller import Controller, ControllerConfig
from devices.relays import SimulatedRelay
from tests.conftest import TEST_CONFIG
from tests.support.mosquitto import DEPLOY_ACL, start_broker
from tests.support.servers import start_app_server

SERVICE_PASSWORD = "service-pw"


def _call(port: int, method: str, path: str, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Accept": "application/json", "Accept-Language": "en"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(
            method, path, json.dumps(body) if body is not None else None, headers
        )
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def broker():
    b = start_broker({"landdesk": SERVICE_PASSWORD}, DEPLOY_ACL)
    yield b
    b.close()


@pytest.fixture
def site(db, create_user, create_location, create_resource, broker, tmp_path):
    """A location with a desk, a member booked now, a door and its controller."""
    from booking.access.services import create_door
    from booking.bookings.models import Booking

    operator = create_user(role="operator")
    location = create_location(operator)
    desk = create_resource(location)
    member = create_user("member@example.org")
    now = datetime.now(UTC)
    db.add(
        Booking(
            user_id=member.id,
            resource_id=desk.id,
            location_id=location.id,
            seat=0,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=3),
            booked_on=now.date(),
            part="hours",
            status="confirmed",
        )
    )
    db.commit()
    door, secret = create_door(
        db, operator, location.id, {"name": "Entrance", "kind": "landdesk"}
    )
    password = f"door-pw-{door.id}"
    broker.add_user(str(door.id), password)
    relay = SimulatedRelay()
    controller = Controller(
        ControllerConfig(
            door_id=str(door.id),
            secret=secret,
            mqtt_url=f"mqtt://{door.id}:{password}@{broker.host}:{broker.port}",
            open_s=1,
            max_open_s=2,
            keepalive=5,
            session_expiry_s=60,
            state_file=str(tmp_path / "door.json"),
        ),
        relay=relay,
    )
    controller.start()
    assert controller.wait_connected(5), "controller did not connect"
    yield door, controller, relay
    controller.stop()


def _env(broker, **extra) -> dict[str, str]:
    return {
        # The door secret is sealed with the secret key: one key for all hosts.
        "LANDDESK_SECRET_KEY": TEST_CONFIG["SECRET_KEY"],
        "LANDDESK_MQTT_URL": broker.url("landdesk"),
        "LANDDESK_MAIL_URL": "console",
        "LANDDESK_LOG_LEVEL": "INFO",
        **extra,
    }


def test_two_app_hosts_answer_any_request_unlock_and_share_limits(
    app, database_url, broker, site
):
    door, _controller, relay = site
    env = _env(
        broker,
        LANDDESK_RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379",
        # Keys of this test only, whatever else uses the Redis.
        LANDDESK_RATELIMIT_KEY_PREFIX=f"landdesk-test-{secrets.token_hex(4)}",
        LANDDESK_UNLOCK_RATE_LIMIT="3/minute",
        LANDDESK_UNLOCK_TIMEOUT_S="5",
    )
    hosts = [start_app_server(database_url, workers=2, env=env) for _ in range(2)]
    try:
        a, b = (host.port for host in hosts)
        status, body = _call(
            a,
            "POST",
            "/api/v1/auth/token",
            {"email": "member@example.org", "password": "password123"},
        )
        assert status == 200, body
        token = json.loads(body)["token"]
        # A login made on one host is good on the other.
        for port in (a, b):
            status, body = _call(port, "GET", "/api/v1/bookings", token=token)
            assert status == 200, body
            for path in ("/readyz",):
                assert _call(port, "GET", path)[0] == 200

        def broker_ok(port):
            return json.loads(_call(port, "GET", "/readyz")[1])["broker"] == "ok"

        unlock = f"/api/v1/doors/{door.id}/unlock"
        outcomes = []
        for port in (a, b, a):
            _wait(lambda port=port: broker_ok(port), 10, "the broker link")
            status, body = _call(port, "POST", unlock, {}, token=token)
            outcomes.append(status)
            assert status == 200, body
            assert json.loads(body)["status"] == "opened"
        # The relay pulsed once per unlock, whichever host sent it.
        _wait(lambda: len(relay.pulses) == 3, 5, "three relay pulses")
        # Three unlocks are the limit per minute across both hosts.
        status, body = _call(b, "POST", unlock, {}, token=token)
        assert status == 429, body
    finally:
        for host in hosts:
            host.stop()


def _listener(flask_command, broker, name, log_dir):
    log_path = log_dir / f"listener-{name}.log"
    with open(log_path, "a") as log_file:
        process = flask_command(
            "doors",
            "listen",
            "--client-id",
            f"landdesk-listener-{name}",
            env=_env(broker),
            stdout=log_file,
            stderr=log_file,
        )
    start = log_path.read_text().count("MQTT connected")

    def connected():
        assert process.poll() is None, log_path.read_text()
        return log_path.read_text().count("MQTT connected") > start

    _wait(connected, 20, f"listener {name} to connect")
    time.sleep(0.5)  # its SUBSCRIBE reaches the broker before our events
    return process


def _stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def test_door_listeners_on_two_hosts_store_each_event_once(
    app, db, broker, site, flask_command, tmp_path
):
    from booking.access.models import AccessEvent

    door, controller, _relay = site

    def stored():
        db.rollback()
        rows = db.execute(
            select(AccessEvent.event_id, AccessEvent.event_type).where(
                AccessEvent.door_id == door.id, AccessEvent.event_id.is_not(None)
            )
        ).all()
        db.rollback()
        return rows

    first = _listener(flask_command, broker, "host1", tmp_path)
    second = _listener(flask_command, broker, "host2", tmp_path)
    try:
        controller.report_tamper("enclosure opened")
        controller.report_tamper("reader pulled off")
        _wait(lambda: len(stored()) == 2, 10, "two door events")
        # host1 goes down: host2 alone stores what happens meanwhile.
        _stop(first)
        controller.enter_pin("000000")
        _wait(lambda: len(stored()) == 3, 10, "the PIN event")
        # host1 comes back: the broker kept the event for its session, and
        # it is not stored a second time.
        first = _listener(flask_command, broker, "host1", tmp_path)
        time.sleep(1.5)
        rows = stored()
        assert len(rows) == 3
        assert len({event_id for event_id, _ in rows}) == 3
        assert sorted(kind for _, kind in rows) == ["pin_refused", "tamper", "tamper"]
    finally:
        for process in (first, second):
            if process.poll() is None:
                _stop(process)


def test_job_runners_on_two_hosts_run_each_job_once(app, flask_command):
    from booking.ops.jobs import JOBS

    runners = [flask_command("jobs", "run", "--once") for _host in ("host1", "host2")]
    ran = []
    for runner in runners:
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        ran += [line.split(":")[0] for line in out.splitlines() if line]
    assert sorted(ran) == sorted(job.name for job in JOBS)
