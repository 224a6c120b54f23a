"""Booking mails after the commit: the background thread, the worker command,
exactly once, retried when the mail server was down."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from booking.bookings.models import Booking
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.checkin.services import join_waitlist
from booking.errors import BookingConflict
from booking.notifications.models import SentNotification
from booking.notifications.services import deliver_booking_mails, deliver_due_mails
from booking.tasks import background_job
from tests.conftest import next_weekday


@pytest.fixture
def desk(create_location, create_resource):
    return create_resource(create_location(horizon_days=60), "desk", "Desk 1")


def _due(db) -> list[tuple[int, str]]:
    db.rollback()
    return [
        (booking_id, kind)
        for booking_id, kind in db.execute(
            select(Booking.id, Booking.mail_due).where(Booking.mail_due.is_not(None))
        )
    ]


class TestThread:
    @pytest.fixture
    def app_config(self, app_config, smtp):
        return {**app_config, "MAIL_DELIVERY": "thread", "MAIL_URL": smtp.url}

    def test_confirmation_mail_is_sent_off_the_request_thread(
        self, app, db, smtp, desk, create_user
    ):
        member = create_user("m@example.org")
        create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
        mail = smtp.wait_for_message()
        assert mail["To"] == "m@example.org"
        assert any(part.get_content_type() == "text/calendar" for part in mail.walk())
        assert _due(db) == []

    def test_a_failed_booking_wakes_nothing_and_the_job_has_its_own_thread(
        self, app, db, smtp, desk, create_user
    ):
        day = next_weekday(2)
        create_booking(db, create_user(), BookingRequest(desk.id, on=day))
        smtp.wait_for_message()
        job = app.extensions["landdesk_background"]["landdesk-mail"]
        assert job.drain(5)
        with pytest.raises(BookingConflict):
            create_booking(db, create_user(), BookingRequest(desk.id, on=day))
        assert job.drain(5)
        assert len(smtp.messages) == 1

        seen = []
        done = threading.Event()
        other = background_job(
            app,
            "test-job",
            lambda: (seen.append(threading.current_thread().name), done.set()),
        )
        other.wake()
        assert done.wait(5)
        assert seen == ["test-job"]


class TestWorker:
    @pytest.fixture
    def app_config(self, app_config, smtp):
        return {**app_config, "MAIL_DELIVERY": "worker", "MAIL_URL": smtp.url}

    def test_the_web_process_sends_nothing_the_command_sends_once(
        self, app, db, smtp, desk, create_user
    ):
        member = create_user("m@example.org")
        booking = create_booking(
            db, member, BookingRequest(desk.id, on=next_weekday(1))
        )
        time.sleep(0.2)
        assert smtp.messages == []
        assert _due(db) == [(booking.id, "booking_confirmed")]
        runner = app.test_cli_runner()
        result = runner.invoke(args=["notifications", "deliver"])
        assert result.exit_code == 0, result.output
        assert "Handled 1 booking" in result.output
        assert smtp.wait_for_message()["To"] == "m@example.org"
        assert runner.invoke(args=["notifications", "deliver"]).exit_code == 0
        time.sleep(0.2)
        assert len(smtp.messages) == 1
        assert _due(db) == []

    def test_cancellation_mails_the_holder_and_the_waitlist(
        self, app, db, smtp, desk, create_user
    ):
        day = next_weekday(3)
        holder = create_user("h@example.org")
        booking = create_booking(db, holder, BookingRequest(desk.id, on=day))
        join_waitlist(db, create_user("w@example.org"), desk.location_id, day)
        assert deliver_booking_mails(db) == (1, 0)
        smtp.wait_for_message(1)
        smtp.clear()
        cancel_booking(db, holder, booking.id)
        assert smtp.messages == []
        # One round of the worker: the cancellation, then the waitlist's mail
        # it queued (booking.outbox).
        assert deliver_due_mails(db) == (2, 0)
        smtp.wait_for_message(2)
        assert sorted(m["To"] for m in smtp.messages) == [
            "h@example.org",
            "w@example.org",
        ]
        cancellation = next(m for m in smtp.messages if m["To"] == "h@example.org")
        assert cancellation["Subject"].startswith("Cancelled: Desk 1")
        assert deliver_due_mails(db) == (0, 0)

    def test_two_deliverers_at_once_send_each_mail_once(
        self, app, db, smtp, desk, create_resource, create_user
    ):
        day = next_weekday(1)
        for n in range(12):
            member = create_user(f"m{n}@example.org")
            resource = create_resource(desk.location, "desk", f"Desk {n + 2}")
            create_booking(db, member, BookingRequest(resource.id, on=day))
        handled = []

        def run() -> None:
            with app.app_context():
                from booking.db import get_db

                handled.append(deliver_booking_mails(get_db(), limit=5)[0])

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while deliver_booking_mails(db, limit=5)[0]:
            pass
        smtp.wait_for_message(12)
        time.sleep(0.2)
        assert len(smtp.messages) == 12
        assert len({m["To"] for m in smtp.messages}) == 12
        db.rollback()
        assert db.scalar(select(func.count()).select_from(SentNotification)) == 12

    def test_a_send_that_failed_is_tried_again(self, app, db, smtp, desk, create_user):
        booking = create_booking(
            db,
            create_user("m@example.org"),
            BookingRequest(desk.id, on=next_weekday(1)),
        )
        app.config["MAIL_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
        assert deliver_booking_mails(db) == (1, 1)
        assert _due(db) == [(booking.id, "booking_confirmed")]
        app.config["MAIL_URL"] = smtp.url
        # Not before its pause is over (a minute after the first attempt).
        assert deliver_booking_mails(db) == (0, 0)
        later = datetime.now(UTC) + timedelta(minutes=2)
        assert deliver_booking_mails(db, now=later) == (1, 0)
        assert smtp.wait_for_message()["To"] == "m@example.org"
        assert _due(db) == []
