"""Dates and times as people write them, in pages and mails (issue 17.9)."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_babel import force_locale

from tests.conftest import csrf_token, next_weekday

ISO_DATE = re.compile(r"\b\d{4}-\d{2}(-\d{2})?\b")


def _visible(html: str) -> str:
    """The page's text, without tags and attribute values (URLs may hold ISO)."""
    return re.sub(r"<[^>]*>", " ", html)


@pytest.mark.parametrize(
    "lang, day, month, span, whole",
    [
        ("de", "08.12.2026", "Dezember 2026", "07:00–12:00", "ganztägig"),
        ("en", "8 Dec 2026", "December 2026", "07:00–12:00", "whole day"),
    ],
)
def test_one_helper_formats_days_months_and_spans(app, lang, day, month, span, whole):
    from booking.i18n import localdate, localmonth, readable_dates, timespan

    start = datetime(2026, 12, 8, 6, tzinfo=UTC)  # 07:00 in Berlin
    midnight = datetime(2026, 12, 7, 23, tzinfo=UTC)
    with app.test_request_context(), force_locale(lang):
        assert localdate(date(2026, 12, 8), fmt="medium") == day
        assert localmonth("2026-12") == month
        assert timespan(start, start + timedelta(hours=5), "Europe/Berlin") == span
        assert timespan(midnight, midnight + timedelta(days=1), "Europe/Berlin") == (
            whole
        )
        assert "AM" not in timespan(midnight, start, "Europe/Berlin")
        assert readable_dates("Desk 1 2026-12-08") == f"Desk 1 {day}"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_member_pages_show_no_iso_date(
    client, auth, db, create_user, create_location, create_resource, lang
):
    from booking.bookings.services import BookingRequest, create_booking

    location = create_location(name="Alte Schule", slug="alte-schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    member = create_user("m@example.org")
    day = next_weekday(1)
    booking = create_booking(db, member, BookingRequest(desk.id, on=day))
    auth.login("m@example.org")
    client.set_cookie("lang", lang)
    for path in (
        "/bookings",
        f"/bookings/{booking.id}/cancel",
        f"/bookings/new?resource_id={desk.id}&date={day.isoformat()}",
        f"/l/alte-schule?date={day.isoformat()}",
    ):
        page = client.get(path).get_data(as_text=True)
        assert not ISO_DATE.search(_visible(page)), path
        assert not re.search(r"\d (AM|PM)", _visible(page)), path
    written = day.strftime("%d.%m.%Y") if lang == "de" else f"{day.day} {day:%b %Y}"
    # With its weekday: people plan by "Tuesday", not by the date alone.
    weekday = "Di." if lang == "de" else "Tue"
    assert f"{weekday}, {written}" in client.get("/bookings").get_data(as_text=True)


def test_a_day_beyond_the_horizon_says_so(client, create_location, create_resource):
    location = create_location(name="Alte Schule", slug="alte-schule")
    create_resource(location, "desk", "Fensterplatz")
    far = date.today() + timedelta(days=location.horizon_days + 40)
    client.set_cookie("lang", "de")
    page = client.get(f"/l/alte-schule?date={far.isoformat()}").get_data(as_text=True)
    notice = re.search(r'<p class="flash info"[^>]*id="day-notice">([^<]*)', page)
    assert notice, "no notice for a day beyond the horizon"
    assert far.strftime("%d.%m.%Y") in notice.group(1)
    assert "zu weit in der Zukunft" in notice.group(1)
    assert not ISO_DATE.search(_visible(page))


def test_password_mail_names_the_network(client, db, create_user, smtp):
    from booking.spaces.models import NetworkSettings

    db.add(NetworkSettings(id=1, name="Dorfbüros Nordsachsen", imprint="", privacy=""))
    db.flush()
    create_user("m@example.org")
    client.post(
        "/password/forgot",
        data={
            "email": "m@example.org",
            "csrf_token": csrf_token(client, "/password/forgot"),
        },
    )
    mail = smtp.wait_for_message()
    body = mail.get_content()
    assert "Dorfbüros Nordsachsen" in body
    assert "Landdesk" not in body and "Landdesk" not in mail["Subject"]
    assert "Dorfbüros Nordsachsen" in mail["Subject"]
