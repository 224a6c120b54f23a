import threading

import pytest

from booking.bookings.services import BookingRequest, create_booking
from booking.db import unit_of_work
from booking.tasks import in_background
from tests.conftest import next_weekday


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, "DEFERRED_TASKS": "thread", "MAIL_URL": smtp.url}


def test_confirmation_mail_is_sent_off_the_request_thread(
    app, db, smtp, create_location, create_resource, create_user
):
    location = create_location()
    desk = create_resource(location)
    member = create_user("m@example.org")
    create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    mail = smtp.wait_for_message()
    assert mail["To"] == "m@example.org"
    assert any(part.get_content_type() == "text/calendar" for part in mail.walk())


def test_background_work_runs_after_commit_only_in_its_own_thread(app, db):
    seen = []
    with pytest.raises(RuntimeError):
        with unit_of_work(db):
            in_background(db, lambda: seen.append("rolled back"))
            raise RuntimeError
    done = threading.Event()
    with unit_of_work(db):
        in_background(
            db, lambda: (seen.append(threading.current_thread().name), done.set())
        )
    assert done.wait(5)
    assert seen == ["landdesk-background"]
