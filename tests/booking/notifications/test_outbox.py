"""Every outgoing mail is durable: queued in the request's transaction, sent
after it by the one mail delivery, retried while the server is down, and
delivered once when it is back (booking.outbox)."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from booking.notifications import services as notifications
from booking.outbox import SentNotification
from booking.tasks import background_job
from tests.conftest import Auth, csrf_token


@pytest.fixture
def app_config(app_config):
    # The worker sends: each delivery run is under the test's control.
    return {**app_config, "MAIL_DELIVERY": "worker"}


def _forgot(client, email: str):
    return client.post(
        "/password/forgot",
        data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")},
    )


def test_a_reset_mail_survives_a_mail_server_that_is_down(
    app, client, db, mailbox, create_user
):
    user = create_user("reset@example.org")
    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
    assert _forgot(client, "reset@example.org").status_code == 302
    assert mailbox.messages == []
    [row] = db.scalars(
        select(SentNotification).where(SentNotification.user_id == user.id)
    )
    assert row.key.startswith("password_reset:") and row.sent_at is None

    now = datetime.now(UTC)
    assert notifications.deliver_due_mails(db, now=now) == (1, 1)
    db.refresh(row)
    assert row.attempts == 1 and row.sent_at is None and row.failed_at is None
    assert "ConnectionRefusedError" in row.last_error

    app.config["MAIL_URL"] = mailbox.url  # the server is back
    assert notifications.deliver_due_mails(db, now=now) == (0, 0)  # in its pause
    later = now + notifications.RETRY_BACKOFF[0]
    assert notifications.deliver_due_mails(db, now=later) == (1, 0)
    for hours in (1, 24):
        assert notifications.deliver_due_mails(
            db, now=later + timedelta(hours=hours)
        ) == (0, 0)
    [mail] = mailbox.wait(1)
    assert mail["To"] == "reset@example.org"
    assert "/password/reset/" in mail.get_content()
    time.sleep(0.2)
    assert len(mailbox.messages) == 1  # once
    db.refresh(row)
    assert row.sent_at is not None and row.attempts == 2


def test_a_queued_mail_is_given_up_after_the_last_attempt(
    app, client, db, mailbox, create_user
):
    create_user("gone@example.org")
    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"
    assert _forgot(client, "gone@example.org").status_code == 302
    at = datetime.now(UTC)
    assert notifications.deliver_due_mails(db, now=at) == (1, 1)
    for pause in notifications.RETRY_BACKOFF:
        at += pause
        assert notifications.deliver_due_mails(db, now=at) == (1, 1)
    row = db.scalar(select(SentNotification).execution_options(populate_existing=True))
    assert row.attempts == notifications.MAX_ATTEMPTS
    assert row.failed_at is not None
    app.config["MAIL_URL"] = mailbox.url
    assert notifications.deliver_due_mails(db, now=at + timedelta(days=1)) == (0, 0)
    assert mailbox.messages == []
    # Administrators see it on the console, by subject and address.
    create_user("admin@example.org", role="admin")
    Auth(client).login("admin@example.org")
    page = client.get("/manage/").get_data(as_text=True)
    assert "Mails that could not be sent" in page
    assert "gone@example.org" in page and row.subject in page
    assert row.key not in page


@pytest.mark.parametrize("delivery", ["thread", "worker"])
def test_no_smtp_inside_the_request(app, client, db, create_user, delivery):
    """A mail server that accepts the connection and never answers (SMTP
    waits 10 s for its greeting) does not slow the request down."""
    create_user("slow@example.org")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{silent.getsockname()[1]}"
        app.config["MAIL_DELIVERY"] = delivery
        token = csrf_token(client, "/password/forgot")
        started = time.monotonic()
        response = client.post(
            "/password/forgot",
            data={"email": "slow@example.org", "csrf_token": token},
        )
        took = time.monotonic() - started
    assert response.status_code == 302
    assert took < 2, took
    if delivery == "thread":
        # The web process's mail thread tried it (and gave up on the silent
        # server once it closed): not the request.
        assert background_job(app, "landdesk-mail", lambda: None).drain(15)
        db.expire_all()
        row = db.scalar(select(SentNotification))
        assert row.attempts == 1 and row.last_error and row.sent_at is None


def test_only_the_mail_delivery_talks_to_the_mail_server():
    """One path: every other module queues (booking.outbox.queue_mail)."""
    package = Path(__file__).resolve().parents[3] / "booking"
    senders = sorted(
        str(path.relative_to(package.parent))
        for path in package.rglob("*.py")
        if path.name != "mail.py" and re.search(r"\bsend_mail\b", path.read_text())
    )
    assert senders == [
        "booking/notifications/compose.py",
        "booking/notifications/services.py",
    ]
