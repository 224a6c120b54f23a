"""A door paired, not configured (issue 18 point 4): the operator gets a
pairing code; the real controller process trades it once for its settings
and connects to the real Mosquitto with a login of its own."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from booking.access.models import Door, DoorPairing
from booking.access.pairing import mosquitto_hash, normalise_code, redeem
from tests.support.doors import fresh, wait_until
from tests.support.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def access_config(broker) -> dict:
    return {
        "MQTT_PASSWORD_FILE": str(broker.directory / "passwd"),
        "PAIRING_RATE_LIMIT": "1000/minute",
    }


def _reload_broker_on_change(broker, user: str, timeout: float = 10) -> None:
    """What the deployment's systemd path unit does: SIGHUP the broker once
    the service wrote the door's login into the password file."""
    passwd = broker.directory / "passwd"
    assert wait_until(lambda: f"\n{user}:$7$" in "\n" + passwd.read_text(), timeout)
    broker.process.send_signal(signal.SIGHUP)


def test_controller_pairs_with_a_code_and_opens_the_door(
    app, api, operator, make_door, link, db, tmp_path, broker
):
    door, _ = make_door(name="Haustür")
    answer = api(operator).post(f"/api/v1/doors/{door.id}/pairing")
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    code = body["code"]
    assert len(normalise_code(code)) == 12 and code.count("-") == 2
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert (
        timedelta(hours=23, minutes=59)
        < expires - datetime.now(UTC)
        <= timedelta(hours=24)
    )
    # Stored hashed only.
    stored = db.query(DoorPairing).filter_by(door_id=door.id).one()
    assert normalise_code(code) not in stored.code_hash and len(stored.code_hash) == 64

    config = tmp_path / "door.toml"
    with LiveServer(app) as server:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devices.controller",
                "--config",
                str(config),
                "--pair",
                server.url,
                code.lower(),  # typed by hand: case does not matter
            ],
            cwd=tmp_path,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            _reload_broker_on_change(broker, str(door.id))
            assert wait_until(lambda: config.exists(), 10)
            assert stat.S_IMODE(config.stat().st_mode) == 0o600
            written = tomllib.loads(config.read_text())
            assert written["door"]["id"] == str(door.id)
            assert written["mqtt"]["url"].startswith(f"mqtt://{door.id}:")
            assert f"@{broker.host}:{broker.port}" in written["mqtt"]["url"]

            def online():
                fresh(db)
                return db.get(Door, door.id).online

            assert wait_until(online, 15), "paired controller did not connect"
            opened = api(operator).post(f"/api/v1/doors/{door.id}/unlock")
            assert opened.status_code == 200, opened.get_json()

            # The code works once: a second controller gets 410, writes nothing.
            second = tmp_path / "second.toml"
            again = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "devices.controller",
                    "--config",
                    str(second),
                    "--pair",
                    server.url,
                    code,
                ],
                cwd=tmp_path,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert again.returncode == 3
            assert "410" in again.stderr and not second.exists()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    output = proc.stdout.read().decode()
    proc.stdout.close()
    assert proc.returncode == 0, output
    assert "paired: configuration written" in output


def test_pairing_codes_expire_are_single_use_and_only_for_operators(
    api, operator, make_door, member, db, client
):
    door, _ = make_door()
    assert api(member).post(f"/api/v1/doors/{door.id}/pairing").status_code == 403
    first = api(operator).post(f"/api/v1/doors/{door.id}/pairing").get_json()["code"]
    second = api(operator).post(f"/api/v1/doors/{door.id}/pairing").get_json()["code"]
    anonymous = api()
    # A newer code withdraws the older one.
    assert anonymous.post("/api/v1/doors/pair", json={"code": first}).status_code == 410
    late = datetime.now(UTC) + timedelta(hours=24, seconds=1)
    with pytest.raises(Exception) as gone:
        redeem(db, second, now=late)
    assert getattr(gone.value, "status", None) == 410
    db.rollback()
    ok = anonymous.post("/api/v1/doors/pair", json={"code": second})
    assert ok.status_code == 200
    assert set(ok.get_json()) == {"door_id", "mqtt_url", "prefix", "secret", "open_s"}
    assert (
        anonymous.post("/api/v1/doors/pair", json={"code": second}).status_code == 410
    )
    unknown = anonymous.post("/api/v1/doors/pair", json={"code": "0000-0000-0000"})
    assert unknown.status_code == 404
    assert anonymous.post("/api/v1/doors/pair", json={}).status_code == 400
    vendor, _ = make_door(kind="shelly", name="Relais", device_id="shellyplus1-a1")
    assert api(operator).post(f"/api/v1/doors/{vendor.id}/pairing").status_code == 400


def test_pair_endpoint_is_rate_limited(app, api):
    app.config["PAIRING_RATE_LIMIT"] = "3/minute"
    anonymous = api()
    codes = [
        anonymous.post(
            "/api/v1/doors/pair", json={"code": "0000-0000-000X"}
        ).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [404, 404, 404] and codes[3:] == [429, 429]


def test_password_file_lines_are_what_mosquitto_writes():
    import base64
    import hashlib

    line = mosquitto_hash("secretpw", salt=b"0123456789ab")
    _, kind, rounds, salt, digest = line.split("$")
    assert (kind, rounds) == ("7", "101")
    expected = hashlib.pbkdf2_hmac("sha512", b"secretpw", b"0123456789ab", 101)
    assert (
        base64.b64decode(digest) == expected
        and base64.b64decode(salt) == b"0123456789ab"
    )


def test_door_page_shows_code_and_qr_in_plain_words(
    client, auth, operator, location, db
):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    auth.login(operator.email)
    from tests.conftest import csrf_token

    token = csrf_token(client, f"/manage/locations/{location.id}/doors")
    page = client.post(
        f"/manage/locations/{location.id}/doors",
        data={
            "name": "Haustür",
            "kind": "landdesk",
            "open_s": "5",
            "csrf_token": token,
        },
    )
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert 'id="pairing-code"' in text and "<svg" in text
    assert "DOOR-PASSWORD" not in text and "[mqtt]" not in text
    door = db.query(Door).filter_by(name="Haustür").one()
    door_page = client.get(f"/manage/doors/{door.id}").get_data(as_text=True)
    assert 'Landdesk-Türmodul · <span class="muted">noch nie verbunden' in door_page
    assert "MQTT" not in door_page and "landdesk ·" not in door_page
