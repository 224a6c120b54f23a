"""GET /readyz: 200 when the process can serve, 503 naming what is wrong."""

from __future__ import annotations

import time

import pytest

from booking import create_app
from tests.conftest import TEST_CONFIG
from tests.support.mosquitto import DEPLOY_ACL, start_broker
from tests.support.servers import free_port


def test_ready_without_a_broker(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json == {"database": "ok", "migrations": "ok", "broker": "off"}
    assert client.get("/healthz").status_code == 200


def test_unreachable_database_is_named():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/landdesk"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["database"] == "unreachable"
    app.extensions["landdesk_db"].dispose()


def test_migrations_behind_are_named(tmp_path):
    from alembic import command

    from booking.cli import alembic_config, upgrade_database

    app = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path}/old.db"})
    with app.app_context():
        upgrade_database()
        command.downgrade(alembic_config(), "-1")
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {"database": "ok", "migrations": "behind", "broker": "off"}
    with app.app_context():
        upgrade_database()
    assert app.test_client().get("/readyz").status_code == 200
    app.extensions["landdesk_db"].dispose()


@pytest.fixture
def broker():
    b = start_broker({"landdesk": "pw"}, DEPLOY_ACL)
    yield b
    b.close()


def _ready_broker(app, want: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = app.test_client().get("/readyz")
        if answer.json["broker"] == want or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def test_broker_configured_but_down_is_named(app, broker):
    from booking.access.link import stop_link

    app.config["MQTT_URL"] = broker.url("landdesk")
    try:
        answer = _ready_broker(app, "ok")
        assert answer.status_code == 200, answer.json
        broker.stop()
        answer = _ready_broker(app, "disconnected")
        assert answer.status_code == 503
        assert answer.json == {
            "database": "ok",
            "migrations": "ok",
            "broker": "disconnected",
        }
    finally:
        stop_link(app)
