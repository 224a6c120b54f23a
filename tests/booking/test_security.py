"""App-wide protections of booking/security.py and the configuration: request
body limits (see docs/security.md)."""

from __future__ import annotations

import io
import socket

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from tests.support.servers import start_app_server

LIMIT = 1024 * 1024


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes that counts what the app reads."""

    def __init__(self, size: int):
        self.left = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        self.read_bytes += n
        return n


def test_default_body_limit_is_one_megabyte(app):
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT


def _post_stream(app, path: str, body, **environ) -> str:
    """POST a body stream straight to the WSGI app, headers as given (the
    test client would measure and buffer the stream). Returns the status."""
    env = create_environ(path, method="POST", content_type="application/json")
    env.pop("CONTENT_LENGTH", None)
    env.update({"wsgi.input": body, **environ})
    app_iter, status, _headers = run_wsgi_app(app, env)
    b"".join(app_iter)
    return status


def test_webhook_refuses_a_large_body_before_reading_it(app):
    body = CountingStream(300 * 1024 * 1024)
    status = _post_stream(
        app, "/stripe/webhook", body, CONTENT_LENGTH=str(300 * 1024 * 1024)
    )
    assert status.startswith("413")
    assert body.read_bytes == 0


CHUNKED = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}


def test_webhook_stops_reading_a_chunked_body_at_the_limit(app):
    # A server that de-chunks (gunicorn) gives no length and marks the input
    # as terminated (the wsgi.input_terminated extension to PEP 3333).
    body = CountingStream(20 * LIMIT)
    status = _post_stream(app, "/stripe/webhook", body, **CHUNKED)
    assert status.startswith("413")
    assert body.read_bytes <= LIMIT + 64 * 1024


def test_a_chunked_body_under_the_limit_arrives_whole(app):
    padding = b" " * 500_000
    body = io.BytesIO(b'{"email": "x@example.org", "password": "wrong"}' + padding)
    status = _post_stream(app, "/api/v1/auth/token", body, **CHUNKED)
    assert status.startswith("401")  # read and parsed: the password is wrong


def test_api_refuses_a_body_over_the_configured_limit(app, api, create_user):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    client = api(create_user())
    response = client.post(
        "/api/v1/bookings",
        data=b"[" + b" " * 5000 + b"]",
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"


@pytest.fixture
def server(database_url):
    server = start_app_server(database_url, workers=1)
    yield server
    server.stop()


def test_gunicorn_answers_413_to_an_endless_chunked_body(server):
    """Through a real server and socket: the body is cut off, not buffered."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /stripe/webhook HTTP/1.1\r\n"
            b"Host: localhost\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
        sent = 0
        try:
            while sent < 8 * LIMIT:
                sock.sendall(chunk)
                sent += 64 * 1024
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: that is the point
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


# --- rate limits run where they are declared (issue 16 point 2) --------------


def test_the_password_reset_limit_still_holds_with_its_headers(client, auth):
    from booking.extensions import limiter

    limiter.reset()
    token = auth.csrf("/password/forgot")
    answers = [
        client.post(
            "/password/forgot",
            data={"email": f"nobody{i}@example.org", "csrf_token": token},
        )
        for i in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [302] * 10
    assert answers[0].headers["X-RateLimit-Limit"] == "10"
    assert answers[9].headers["X-RateLimit-Remaining"] == "0"
    assert answers[10].status_code == 429
    # A page without a limit carries no rate-limit bookkeeping.
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers
    limiter.reset()


def test_in_process_rate_limits_start_no_timer_threads(app):
    """The in-process counters (login throttle, unlock and reset limits)
    expire without a timer thread per hit, and still expire."""
    import threading
    import time

    from booking.extensions import SweptMemoryStorage, limiter

    storage = limiter.storage
    assert isinstance(storage, SweptMemoryStorage)
    threads = threading.active_count()
    for i in range(50):
        storage.incr(f"test-key-{i}", 1)
    assert threading.active_count() == threads
    assert storage.get("test-key-0") == 1
    time.sleep(1.1)
    assert storage.get("test-key-0") == 0
    storage.incr("test-key-x", 1)  # sweeps what nobody read again
    assert "test-key-49" not in storage.expirations
