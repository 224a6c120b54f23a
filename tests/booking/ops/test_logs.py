"""Every log line of a request carries its id; LOG_FORMAT=json writes JSON lines."""

from __future__ import annotations

import io
import json
import logging

import pytest


@pytest.fixture
def log_stream(app):
    """What the app's own root handler writes (its stream swapped for a buffer)."""
    handler = next(
        h for h in logging.getLogger().handlers if h.get_name() == "landdesk"
    )
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def _log_in_a_request(app, client, **headers):
    @app.get("/test-log")
    def test_log():
        logging.getLogger("booking.somewhere").warning("door %s is sticky", 7)
        return "ok"

    return client.get("/test-log", headers=headers)


def test_text_lines_carry_the_request_id(app, client, log_stream):
    answer = _log_in_a_request(app, client)
    request_id = answer.headers["X-Request-ID"]
    assert len(request_id) == 24
    assert client.get("/healthz").headers["X-Request-ID"] != request_id
    line = log_stream.getvalue().strip().splitlines()[-1]
    assert f"[{request_id}] booking.somewhere: door 7 is sticky" in line


def test_the_proxys_request_id_is_kept_and_junk_is_replaced(app, client, log_stream):
    answer = _log_in_a_request(app, client, **{"X-Request-ID": "edge-42.a"})
    assert answer.headers["X-Request-ID"] == "edge-42.a"
    assert "[edge-42.a]" in log_stream.getvalue()
    junk = client.get("/healthz", headers={"X-Request-ID": "x\u00e4 y" * 40})
    assert junk.headers["X-Request-ID"] != "x\u00e4 y" * 40


def test_json_lines(app, client):
    from booking.ops.logs import configure_logging

    app.config["LOG_FORMAT"] = "json"
    configure_logging(app)  # as create_app does with LANDDESK_LOG_FORMAT=json
    handler = next(
        h for h in logging.getLogger().handlers if h.get_name() == "landdesk"
    )
    log_stream = io.StringIO()
    handler.setStream(log_stream)
    answer = _log_in_a_request(app, client)
    entry = json.loads(log_stream.getvalue().strip().splitlines()[-1])
    assert entry["request_id"] == answer.headers["X-Request-ID"]
    assert entry["message"] == "door 7 is sticky"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "booking.somewhere"
