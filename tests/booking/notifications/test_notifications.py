"""Mails over a real SMTP server: language, preferences, reminders once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.bookings.services import BookingRequest, create_booking
from booking.notifications.services import (
    notify_payment_failed,
    send_reminders,
    set_preferences,
)
from tests.conftest import next_weekday

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def desk(create_location, create_resource):
    location = create_location(horizon_days=60)
    return create_resource(location, "desk", "Desk 1")


def test_confirmation_is_in_the_members_language(db, mailbox, desk, create_user):
    day = next_weekday(0)  # a Monday
    create_booking(
        db, create_user("de@example.org", locale="de"), BookingRequest(desk.id, on=day)
    )
    create_booking(
        db,
        create_user("en@example.org", locale="en"),
        BookingRequest(desk.id, on=day + timedelta(days=1)),
    )
    mailbox.wait(2)
    [german] = mailbox.to("de@example.org")
    [english] = mailbox.to("en@example.org")
    assert "Montag" in german.get_body(("plain",)).get_content()
    assert "Dienstag" not in german.get_body(("plain",)).get_content()
    assert "Tuesday" in english.get_body(("plain",)).get_content()
    assert "Desk 1" in english["Subject"]


def test_members_choose_their_mails(db, api, mailbox, desk, create_user):
    member = create_user("m@example.org")
    client = api(member)
    prefs = client.get("/api/v1/me/notifications").get_json()
    assert prefs["booking_confirmed"] is True and prefs["reminder"] is True
    changed = client.put("/api/v1/me/notifications", json={"booking_confirmed": False})
    assert changed.get_json()["booking_confirmed"] is False
    assert changed.get_json()["reminder"] is True
    bad = client.put("/api/v1/me/notifications", json={"nonsense": True})
    assert bad.status_code == 400
    create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    other = create_user("o@example.org")
    create_booking(db, other, BookingRequest(desk.id, on=next_weekday(2)))
    mailbox.wait(1)
    import time as _time

    _time.sleep(0.2)
    assert mailbox.to("m@example.org") == []
    assert len(mailbox.to("o@example.org")) == 1


def test_send_reminders_is_safe_to_run_twice(app, db, mailbox, desk, create_user):
    day = next_weekday(2, min_days=2)
    holder = create_user("h@example.org")
    later = create_user("l@example.org")
    muted = create_user("q@example.org")
    create_booking(db, holder, BookingRequest(desk.id, on=day))
    create_booking(db, later, BookingRequest(desk.id, on=day + timedelta(days=1)))
    create_booking(db, muted, BookingRequest(desk.id, on=day + timedelta(days=7)))
    set_preferences(db, muted, ["booking_confirmed"])
    mailbox.wait(3)
    mailbox.clear()
    evening_before = datetime.combine(day - timedelta(days=1), time(18), tzinfo=BERLIN)
    assert send_reminders(db, now=evening_before) == 1
    assert send_reminders(db, now=evening_before + timedelta(minutes=5)) == 0
    [reminder] = mailbox.wait(1)
    assert reminder["To"] == "h@example.org"
    # The CLI runs the same service (real time: nothing is due tomorrow here).
    result = app.test_cli_runner().invoke(args=["send-reminders"])
    assert result.exit_code == 0 and "reminder" in result.output
    week_later = datetime.combine(day + timedelta(days=6), time(9), tzinfo=BERLIN)
    assert send_reminders(db, now=week_later) == 0  # the muted member


def test_payment_failed_hook_mails_once(db, mailbox, create_user):
    member = create_user("p@example.org", locale="en")
    assert notify_payment_failed(
        db, member, key="pay-1", amount_cents=1500, currency="eur"
    )
    assert not notify_payment_failed(
        db, member, key="pay-1", amount_cents=1500, currency="eur"
    )
    [mail] = mailbox.wait(1)
    assert "€15.00" in mail.get_body(("plain",)).get_content()  # Babel, English


def test_mail_server_down_does_not_undo_the_booking(app, db, desk, create_user):
    app.config["MAIL_URL"] = "smtp://127.0.0.1:1"
    booking = create_booking(
        db, create_user(), BookingRequest(desk.id, on=next_weekday(1))
    )
    assert booking.id and booking.status == "confirmed"
