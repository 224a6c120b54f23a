"""A mail that cannot go out is retried with pauses, then shown to operators;
it never holds up the other mails. Names carry no control characters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, update

from booking.bookings.services import BookingRequest, create_booking
from booking.notifications import services as notifications
from booking.notifications.models import SentNotification
from booking.spaces.models import Resource
from booking.validation import clean_name
from tests.conftest import Auth, next_weekday


@pytest.fixture
def app_config(app_config):
    # The worker sends: each delivery run is under the test's control.
    return {**app_config, "MAIL_DELIVERY": "worker"}


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Desk 3\r\nBcc: x@example.org", "Desk 3 Bcc: x@example.org"),
        ("\tBooth\x00A\u2028", "Booth A"),
        ("Schloß  Eilenburg", "Schloß  Eilenburg"),
    ],
)
def test_names_lose_control_characters_on_every_path(
    db, api, create_location, create_resource, create_user, raw, stored
):
    assert clean_name(raw) == stored
    location = create_location()
    desk = create_resource(location, "desk", raw)  # the service
    assert desk.name == stored
    operator = api(location.operators[0])
    created = operator.post(
        f"/api/v1/locations/{location.id}/resources",
        json={"name": raw, "kind": "desk"},
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["name"] == stored
    renamed = operator.patch(f"/api/v1/locations/{location.id}", json={"name": raw})
    assert renamed.get_json()["name"] == stored
    member = create_user(name=raw)
    assert member.name == stored
    db.rollback()
    db.expire_all()
    assert db.get(Resource, desk.id).name == stored


def test_a_mail_that_cannot_be_composed_holds_up_no_other(
    app, db, mailbox, client, create_location, create_resource, create_user
):
    location = create_location(horizon_days=60)
    day = next_weekday(1)
    bad_desk = create_resource(location, "desk", "Desk 3")
    good_desk = create_resource(location, "desk", "Desk 4")
    # A name stored before names were cleaned: no form or API writes one now.
    db.execute(
        update(Resource)
        .where(Resource.id == bad_desk.id)
        .values(name="Desk 3\r\nBcc: x@example.org")
    )
    db.commit()
    bad = create_booking(
        db, create_user("first@example.org"), BookingRequest(bad_desk.id, on=day)
    )
    good = create_booking(
        db, create_user("second@example.org"), BookingRequest(good_desk.id, on=day)
    )
    now = datetime.now(UTC)
    assert notifications.deliver_booking_mails(db, now=now) == (2, 1)
    [mail] = mailbox.wait(1)
    assert mail["To"] == "second@example.org"

    def row() -> SentNotification:
        db.rollback()
        return db.scalar(
            select(SentNotification)
            .where(SentNotification.booking_id == bad.id)
            .execution_options(populate_existing=True)
        )

    assert row().attempts == 1 and row().failed_at is None
    assert "ValueError" in row().last_error
    # Retried after growing pauses, then given up.
    at = now
    for pause in notifications.RETRY_BACKOFF:
        assert notifications.deliver_booking_mails(db, now=at + pause / 2) == (0, 0)
        at += pause
        assert notifications.deliver_booking_mails(db, now=at) == (1, 1)
    assert row().attempts == notifications.MAX_ATTEMPTS
    assert row().failed_at is not None
    assert notifications.deliver_booking_mails(db, now=at + timedelta(days=1)) == (
        0,
        0,
    )
    assert len(mailbox.messages) == 1
    assert good.id != bad.id

    # The operator sees it on the console; another location's operator not.
    Auth(client).login(location.operators[0].email)
    page = client.get("/manage/").get_data(as_text=True)
    assert "Mails that could not be sent" in page
    assert "first@example.org" in page and "second@example.org" not in page
    other = client.application.test_client()
    Auth(other).login(create_location().operators[0].email)
    assert "Mails that could not be sent" not in other.get("/manage/").get_data(
        as_text=True
    )


def test_send_once_mails_are_retried_by_the_delivery(app, db, mailbox, create_user):
    member = create_user()
    assert notifications.notify_payment_failed(
        db, member, key="pay-9", amount_cents=100, currency="eur"
    )
    # A second webhook for the same payment queues nothing.
    assert not notifications.notify_payment_failed(
        db, member, key="pay-9", amount_cents=100, currency="eur"
    )
    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
    now = datetime.now(UTC)
    assert notifications.deliver_due_mails(db, now=now) == (1, 1)
    app.config["MAIL_URL"] = mailbox.url
    # Still in its pause.
    assert notifications.deliver_due_mails(db, now=now) == (0, 0)
    later = now + notifications.RETRY_BACKOFF[0]
    assert notifications.deliver_due_mails(db, now=later) == (1, 0)
    assert notifications.deliver_due_mails(db, now=later + timedelta(days=1)) == (0, 0)
    [mail] = mailbox.wait(1)
    assert mail["To"] == member.email
    row = db.scalar(
        select(SentNotification)
        .where(SentNotification.key == "payment_failed:pay-9")
        .execution_options(populate_existing=True)
    )
    assert row.attempts == 2 and row.sent_at is not None


def test_a_batch_of_mails_sends_a_fixed_number_of_statements(
    app, db, mailbox, create_location, create_resource, create_user
):
    location = create_location(horizon_days=60)
    day = next_weekday(1)
    for i in range(12):
        desk = create_resource(location, "desk", f"D{i}")
        create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    engine = app.extensions["landdesk_db"].engine
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert notifications.deliver_booking_mails(db) == (12, 0)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(mailbox.wait(12)) == 12
    # Not one round of statements per mail: the due bookings with their
    # holders, desks and locations, opt-outs, clear, claim, mark sent.
    assert len(statements) <= 10, statements
