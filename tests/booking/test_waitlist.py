"""The waitlist through the pages: a full day offers "Join waitlist", a
cancellation mails everyone waiting (real SMTP), the first to book gets it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from booking.bookings.models import Booking, BookingStatus
from booking.checkin.models import WaitlistEntry
from tests.conftest import Auth, next_weekday

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def one_desk(create_location, create_resource):
    location = create_location(name="Alte Molkerei", slug="molkerei", horizon_days=60)
    desk = create_resource(location, "desk", "Fensterplatz")
    return location, desk


def _client(app, email: str):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    Auth(client).login(email)
    return client


def _page(client, path: str) -> tuple[str, str]:
    html = client.get(path).get_data(as_text=True)
    return html, TOKEN_RE.search(html).group(1)


def _waitlist_form(html: str) -> str:
    match = re.search(r'<section class="waitlist".*?</section>', html, re.S)
    return match.group(0) if match else ""


def _book(client, path: str, desk, day) -> None:
    _, token = _page(client, path)
    return client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "back": path,
            "csrf_token": token,
        },
    )


def test_full_day_waitlist_mail_and_first_to_book_gets_the_desk(
    app, db, smtp, one_desk, create_user
):
    location, desk = one_desk
    day = next_weekday(2)
    path = f"/l/molkerei?date={day.isoformat()}"
    for email in ("holder@example.org", "wait1@example.org", "wait2@example.org"):
        create_user(email, name=email.split("@")[0])
    holder = _client(app, "holder@example.org")
    first, second = _client(app, "wait1@example.org"), _client(app, "wait2@example.org")

    # A free day offers no waitlist.
    assert _waitlist_form(_page(first, path)[0]) == ""
    assert _book(holder, path, desk, day).status_code == 303

    # The day is full: the page offers to join, as a form that needs no script.
    html, token = _page(first, path)
    form = _waitlist_form(html)
    assert "All desks are booked on this day." in form
    assert f'action="/locations/{location.id}/waitlist"' in form
    assert "Join waitlist" in form and "<script" not in form
    for client in (first, second):
        _, token = _page(client, path)
        joined = client.post(
            f"/locations/{location.id}/waitlist",
            data={"date": day.isoformat(), "back": path, "csrf_token": token},
        )
        assert joined.status_code == 303 and joined.headers["Location"] == path
    html, token = _page(first, path)
    assert "You are on the waitlist" in html and "Leave waitlist" in html
    # Leaving and joining again through the same form.
    first.post(
        f"/locations/{location.id}/waitlist",
        data={"date": day.isoformat(), "leave": "1", "back": path, "csrf_token": token},
    )
    html, token = _page(first, path)
    assert "Join waitlist" in _waitlist_form(html)
    first.post(
        f"/locations/{location.id}/waitlist",
        data={"date": day.isoformat(), "back": path, "csrf_token": token},
    )
    waiting = db.scalars(select(WaitlistEntry).where(WaitlistEntry.day == day)).all()
    assert len(waiting) == 2

    # Someone cancels: everyone waiting gets a mail at once.
    smtp.clear()
    booking = db.scalar(select(Booking).where(Booking.resource_id == desk.id))
    _, token = _page(holder, "/bookings")
    cancelled = holder.post(
        f"/bookings/{booking.id}/cancel", data={"csrf_token": token}
    )
    assert cancelled.status_code == 303
    smtp.wait_for_message(3)  # the holder's cancellation and two waitlist mails
    mails = {m["To"]: m for m in smtp.messages}
    assert set(mails) == {
        "holder@example.org",
        "wait1@example.org",
        "wait2@example.org",
    }
    mail = mails["wait2@example.org"]
    assert mail["Subject"].startswith("A desk is free at Alte Molkerei")
    body = mail.get_body(("plain",)).get_content()
    link = re.search(r"http://localhost(/l/molkerei\?date=\S+)", body).group(1)
    assert link == path

    # The second waiting member is quicker: the link opens the day, they book.
    html, _ = _page(second, link)
    assert "Fensterplatz" in html and 'class="book"' in html
    assert _book(second, link, desk, day).headers["Location"] == "/bookings"
    # The desk is theirs; the other one finds it taken again.
    late = _book(first, link, desk, day)
    assert late.headers["Location"] == link
    html, _ = _page(first, link)
    assert re.search(r"class=\"flash error\"[^>]*>[^<]*already booked", html)
    db.rollback()  # the requests committed in their own sessions
    db.expire_all()
    held = db.scalars(
        select(Booking).where(
            Booking.resource_id == desk.id, Booking.status == BookingStatus.CONFIRMED
        )
    ).all()
    assert [b.user.email for b in held] == ["wait2@example.org"]
    # The winner is no longer offered the waitlist; the other may still wait.
    assert _waitlist_form(_page(second, link)[0]) == ""
    assert "Leave waitlist" in _waitlist_form(_page(first, link)[0])


def test_waitlist_api_join_and_leave(api, db, one_desk, create_user):
    location, desk = one_desk
    day = next_weekday(2)
    member = create_user()
    client = api(member)
    url = f"/api/v1/locations/{location.id}/waitlist?date={day.isoformat()}"
    free = client.post(url)
    assert free.status_code == 400 and free.get_json()["field"] == "date"
    from booking.bookings.services import BookingRequest, create_booking

    create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    assert client.post(url).get_json() == {
        "location_id": location.id,
        "date": day.isoformat(),
    }
    assert client.delete(url).status_code == 204
    assert db.scalars(select(WaitlistEntry)).all() == []
    assert urlsplit(url).path.startswith("/api/v1/")
