"""Feeds, invitations and room blocks, parsed by two independent parsers."""

from __future__ import annotations

import http.server
import io
import ipaddress
import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from booking.bookings.models import DayPart
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.calendars import fetch
from booking.calendars import services as calendar_services
from booking.errors import BookingConflict, InvalidInput
from tests.conftest import next_weekday
from tests.support.smtp import calendar_part

BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = {
    d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def space(create_location, create_resource):
    location = create_location(
        horizon_days=700,
        opening_hours=EVERY_DAY,
        address="Schlossstraße 3, 04838 Eilenburg",
        lat=51.4612,
        lon=12.6336,
    )
    desk = create_resource(location, "desk", "Desk 1")
    room = create_resource(location, "room", "Village hall", capacity=12)
    return location, desk, room


def events_by_uid(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def vobject_events(body: bytes) -> dict[str, object]:
    cal = vobject.readOne(body.decode())
    return {e.uid.value: e for e in cal.vevent_list}


def feed_path(url: str) -> str:
    return urlsplit(url).path


def test_personal_feed_lists_own_bookings_and_cancellations(
    app, db, api, space, create_user
):
    location, desk, room = space
    member, other = create_user(name="Mia"), create_user()
    day = next_weekday(1)
    desk_booking = create_booking(db, member, BookingRequest(desk.id, on=day))
    room_booking = create_booking(
        db,
        member,
        BookingRequest(
            room.id,
            part=DayPart.HOURS,
            starts_at=local(day, 14),
            ends_at=local(day, 15, 30),
        ),
    )
    create_booking(
        db,
        other,
        BookingRequest(
            room.id, part=DayPart.HOURS, starts_at=local(day, 9), ends_at=local(day, 10)
        ),
    )
    cancel_booking(db, member, desk_booking.id)

    me = api(member).get("/api/v1/me").get_json()
    assert me["calendar_url"].startswith("http://localhost/calendar/")
    assert (
        api(member).get("/api/v1/me").get_json()["calendar_url"] == me["calendar_url"]
    )

    response = app.test_client().get(feed_path(me["calendar_url"]))
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    events = events_by_uid(response.data)
    assert set(events) == {
        f"booking-{desk_booking.id}@localhost",
        f"booking-{room_booking.id}@localhost",
    }
    cancelled = events[f"booking-{desk_booking.id}@localhost"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled["SEQUENCE"] == 1
    live = events[f"booking-{room_booking.id}@localhost"]
    assert str(live["STATUS"]) == "CONFIRMED" and live["SEQUENCE"] == 0
    assert live.decoded("DTSTART") == local(day, 14)
    assert live.decoded("DTEND") == local(day, 15, 30)
    assert "Schlossstraße 3" in str(live["LOCATION"])
    geo = live["GEO"]
    assert (round(geo.latitude, 4), round(geo.longitude, 4)) == (51.4612, 12.6336)

    # An independent parser reads the same feed the same way.
    parsed = vobject_events(response.data)
    second = parsed[f"booking-{room_booking.id}@localhost"]
    assert second.dtstart.value == local(day, 14)
    assert second.status.value == "CONFIRMED"
    assert parsed[f"booking-{desk_booking.id}@localhost"].status.value == "CANCELLED"


def test_feed_url_is_secret_and_revocable(app, db, api, space, create_user):
    member = create_user()
    old = api(member).get("/api/v1/me").get_json()["calendar_url"]
    client = app.test_client()
    assert client.get(feed_path(old)).status_code == 200
    token = feed_path(old).rsplit("/", 1)[1].removesuffix(".ics")
    feed_id, signature = token.split(".")
    forged = f"/calendar/{feed_id}.{'0' * len(signature)}.ics"
    assert client.get(forged).status_code == 404
    assert (
        client.get(f"/calendar/{int(feed_id) + 1}.{signature}.ics").status_code == 404
    )

    new = api(member).post("/api/v1/me/calendar/revoke").get_json()["calendar_url"]
    assert new != old
    assert client.get(feed_path(old)).status_code == 404
    assert client.get(feed_path(new)).status_code == 200
    assert api(member).get("/api/v1/me").get_json()["calendar_url"] == new


@pytest.mark.parametrize(
    "day, hour, utc_hour",
    [
        (date(2027, 3, 27), 10, 9),  # winter time, the day before the change
        (date(2027, 3, 28), 10, 8),  # clocks go forward at 02:00
        (date(2027, 10, 31), 10, 9),  # clocks go back at 03:00
        (date(2027, 7, 1), 10, 8),  # summer time
    ],
)
def test_daylight_saving_days_show_the_right_local_time(
    app, db, api, space, create_user, day, hour, utc_hour
):
    location, desk, room = space
    member = create_user()
    now = local(day, 0) - timedelta(days=3)
    booking = create_booking(
        db,
        member,
        BookingRequest(
            room.id,
            part=DayPart.HOURS,
            starts_at=local(day, hour),
            ends_at=local(day, hour + 2),
        ),
        now=now,
    )
    desk_booking = create_booking(db, member, BookingRequest(desk.id, on=day), now=now)
    url = api(member).get("/api/v1/me").get_json()["calendar_url"]
    body = app.test_client().get(feed_path(url)).data
    uid = f"booking-{booking.id}@localhost"
    start = events_by_uid(body)[uid].decoded("DTSTART")
    assert start.utcoffset() == timedelta(0) and start.hour == utc_hour
    assert start.astimezone(BERLIN).hour == hour
    second = vobject_events(body)[uid].dtstart.value
    assert second.astimezone(BERLIN).replace(tzinfo=None) == datetime(
        day.year, day.month, day.day, hour
    )
    # The desk's day starts at the opening time, 08:00 local, whatever the offset.
    desk_start = events_by_uid(body)[f"booking-{desk_booking.id}@localhost"]
    assert desk_start.decoded("DTSTART").astimezone(BERLIN).hour == 8


def test_operator_feed_per_location(app, db, api, space, create_user, create_location):
    location, desk, room = space
    operator = location.operators[0]
    member = create_user(name="Mia Muster")
    booking = create_booking(db, member, BookingRequest(desk.id, on=next_weekday(2)))
    elsewhere = create_location()
    create_booking(
        db,
        member,
        BookingRequest(create_resource_in(db, elsewhere).id, on=next_weekday(3)),
    )
    client = app.test_client()
    from tests.conftest import Auth

    Auth(client).login(operator.email)
    page = client.get(f"/manage/locations/{location.id}/calendars")
    assert page.status_code == 200
    url = page.get_data(as_text=True).split('readonly value="')[1].split('"')[0]
    events = events_by_uid(app.test_client().get(feed_path(url)).data)
    assert list(events) == [f"booking-{booking.id}@localhost"]
    assert "Mia Muster" in str(events[f"booking-{booking.id}@localhost"]["SUMMARY"])
    # Another location's operator gets no feed of this one.
    stranger = elsewhere.operators[0]
    other_client = app.test_client()
    Auth(other_client).login(stranger.email)
    assert (
        other_client.get(f"/manage/locations/{location.id}/calendars").status_code
        == 403
    )
    # When the operator stops running the location, the feed dies.
    from booking.spaces.services import set_location_operators

    admin = create_user(role="admin")
    set_location_operators(db, admin, location.id, [create_user(role="operator").email])
    assert app.test_client().get(feed_path(url)).status_code == 404


def create_resource_in(db, location):
    from booking.spaces.services import create_resource

    return create_resource(
        db, location.operators[0], location.id, {"name": "D", "kind": "desk"}
    )


def test_confirmation_and_cancellation_mails_carry_ics(db, mailbox, space, create_user):
    location, desk, room = space
    member = create_user("mia@example.org", name="Mia")
    booking = create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    [confirmation] = mailbox.wait(1)
    assert confirmation["To"] == "mia@example.org"
    part = calendar_part(confirmation)
    assert part is not None
    assert part.get_param("method") == "REQUEST"
    body = part.get_content()
    body = body.encode() if isinstance(body, str) else body
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["METHOD"]) == "REQUEST"
    [event] = cal.walk("VEVENT")
    uid = f"booking-{booking.id}@localhost"
    assert str(event["UID"]) == uid and event["SEQUENCE"] == 0
    assert "mia@example.org" in str(event["ATTENDEE"])
    assert vobject.readOne(body.decode()).vevent.uid.value == uid

    cancel_booking(db, member, booking.id)
    cancellation = mailbox.wait(2)[1]
    part = calendar_part(cancellation)
    assert part.get_param("method") == "CANCEL"
    body = part.get_content()
    body = body.encode() if isinstance(body, str) else body
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["METHOD"]) == "CANCEL"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == uid
    assert event["SEQUENCE"] == 1 and str(event["STATUS"]) == "CANCELLED"
    assert vobject.readOne(body.decode()).vevent.sequence.value == "1"


def test_a_failed_booking_sends_no_mail(db, mailbox, space, create_user):
    location, desk, room = space
    day = next_weekday(1)
    create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    mailbox.wait(1)
    with pytest.raises(BookingConflict):
        create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    import time

    time.sleep(0.2)
    assert len(mailbox.messages) == 1


# --- room blocks from an external calendar ---------------------------------


class _Served:
    """A local HTTP server that serves whatever ``body`` currently is, or
    redirects to ``redirect`` when that is set."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.body = b""
        self.redirect: str | None = None
        self.requests: list[str] = []
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                served.requests.append(self.headers.get("Host", ""))
                if served.redirect:
                    self.send_response(302)
                    self.send_header("Location", served.redirect)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args):
                pass

        self.host = host
        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/events.ics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(app):
    """A calendar on loopback: an intranet calendar, allowed by the setting."""
    app.config["CALENDAR_IMPORT_ALLOW_PRIVATE"] = True
    server = _Served()
    yield server
    server.close()


@pytest.fixture
def internal():
    """A service on loopback that an attacker would like to read."""
    server = _Served()
    server.body = b"SECRET-INTERNAL-PAGE " * 2000
    yield server
    server.close()


def village_calendar(
    first: date, *, count: int, exdate: date | None, moved=False
) -> bytes:
    """Weekly choir practice 18:00-19:30 (Berlin), one one-off event, an
    all-day fair, and an event marked free (which blocks nothing)."""
    stamp = "20260101T000000Z"
    ex = f"EXDATE;TZID=Europe/Berlin:{exdate:%Y%m%d}T180000\r\n" if exdate else ""
    one_off_hour = 11 if moved else 10
    lines = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Village//Events//DE\r\n"
        "BEGIN:VEVENT\r\nUID:choir@village.example\r\n"
        f"DTSTAMP:{stamp}\r\n"
        f"DTSTART;TZID=Europe/Berlin:{first:%Y%m%d}T180000\r\n"
        f"DTEND;TZID=Europe/Berlin:{first:%Y%m%d}T193000\r\n"
        f"RRULE:FREQ=WEEKLY;COUNT={count}\r\n{ex}"
        "SUMMARY:Choir practice\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:council@village.example\r\n"
        f"DTSTAMP:{stamp}\r\n"
        f"DTSTART;TZID=Europe/Berlin:{first:%Y%m%d}T{one_off_hour:02d}0000\r\n"
        f"DTEND;TZID=Europe/Berlin:{first:%Y%m%d}T{one_off_hour + 1:02d}0000\r\n"
        "SUMMARY:Council meeting\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:fair@village.example\r\n"
        f"DTSTAMP:{stamp}\r\n"
        f"DTSTART;VALUE=DATE:{first + timedelta(days=1):%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{first + timedelta(days=2):%Y%m%d}\r\n"
        "SUMMARY:Village fair\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:notice@village.example\r\n"
        f"DTSTAMP:{stamp}\r\n"
        f"DTSTART;TZID=Europe/Berlin:{first:%Y%m%d}T150000\r\n"
        f"DTEND;TZID=Europe/Berlin:{first:%Y%m%d}T160000\r\n"
        "TRANSP:TRANSPARENT\r\nSUMMARY:Notice\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    return lines.encode()


def room_free_at(api_client, location, room, start: datetime, end: datetime) -> bool:
    day = start.astimezone(BERLIN).date()
    body = api_client.get(
        f"/api/v1/locations/{location.id}/availability?date={day.isoformat()}"
    ).get_json()
    [entry] = [r for r in body["resources"] if r["id"] == room.id]
    for period in entry["free"]:
        free_start = datetime.fromisoformat(period["start"].replace("Z", "+00:00"))
        free_end = datetime.fromisoformat(period["end"].replace("Z", "+00:00"))
        if free_start <= start and end <= free_end:
            return True
    return False


def test_imported_calendar_blocks_the_room(db, api, served, space, create_user):
    location, desk, room = space
    operator = location.operators[0]
    first = next_weekday(2, min_days=2)
    skipped = first + timedelta(days=14)
    served.body = village_calendar(first, count=4, exdate=skipped)
    client = api(operator)
    response = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports",
        json={"name": "Village events", "url": served.url},
    )
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["result"]
    # 3 choir practices (4 minus the EXDATE), the council meeting, the fair.
    assert result["added"] == 5

    public = api()
    for week in (0, 1, 3):
        day = first + timedelta(days=7 * week)
        assert not room_free_at(
            public, location, room, local(day, 18), local(day, 19, 30)
        )
        assert room_free_at(public, location, room, local(day, 16), local(day, 17))
    assert room_free_at(
        public, location, room, local(skipped, 18), local(skipped, 19, 30)
    )
    fair = first + timedelta(days=1)
    assert not room_free_at(public, location, room, local(fair, 9), local(fair, 10))
    # TRANSP:TRANSPARENT blocks nothing.
    assert room_free_at(public, location, room, local(first, 15), local(first, 16))

    member = create_user()
    booked = api(member).post(
        "/api/v1/bookings",
        json={
            "resource_id": room.id,
            "start": local(first, 18).isoformat(),
            "end": local(first, 19).isoformat(),
        },
    )
    assert booked.status_code == 409
    with pytest.raises(BookingConflict):
        create_booking(
            db,
            member,
            BookingRequest(
                room.id,
                part=DayPart.HOURS,
                starts_at=local(fair, 12),
                ends_at=local(fair, 13),
            ),
        )
    ok = create_booking(
        db,
        member,
        BookingRequest(
            room.id,
            part=DayPart.HOURS,
            starts_at=local(skipped, 18),
            ends_at=local(skipped, 19),
        ),
    )
    assert ok.id


def test_reimport_updates_blocks_without_duplicates(
    db, api, served, space, create_user
):
    location, desk, room = space
    operator = location.operators[0]
    first = next_weekday(2, min_days=2)
    served.body = village_calendar(first, count=4, exdate=None)
    client = api(operator)
    created = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports",
        json={"name": "Village events", "url": served.url},
    ).get_json()
    assert created["result"]["added"] == 6
    member = create_user()
    # A booking at 11:00, where the council meeting is about to move.
    clash = create_booking(
        db,
        member,
        BookingRequest(
            room.id,
            part=DayPart.HOURS,
            starts_at=local(first, 11),
            ends_at=local(first, 12),
        ),
    )

    again = client.post(f"/api/v1/resources/{room.id}/calendar-imports/refresh")
    assert again.get_json()[str(created["id"])] == {
        "added": 0,
        "updated": 0,
        "removed": 0,
        "unchanged": 6,
        "conflicting_booking_ids": [],
    }
    served.body = village_calendar(
        first, count=3, exdate=first + timedelta(days=7), moved=True
    )
    changed = client.post(f"/api/v1/resources/{room.id}/calendar-imports/refresh")
    outcome = changed.get_json()[str(created["id"])]
    # Two practices fewer (COUNT 3, one EXDATE), the council meeting moved.
    assert (outcome["added"], outcome["updated"], outcome["removed"]) == (0, 1, 2)
    assert outcome["conflicting_booking_ids"] == [clash.id]
    from sqlalchemy import func, select

    from booking.calendars.models import RoomBlock

    db.rollback()  # end the test session's read snapshot
    assert db.scalar(select(func.count(RoomBlock.id))) == 4
    assert not room_free_at(api(), location, room, local(first, 11), local(first, 12))
    assert room_free_at(api(), location, room, local(first, 10), local(first, 11))


def test_uploaded_file_and_bad_input(db, api, space, create_user, create_location):
    location, desk, room = space
    operator = location.operators[0]
    client = api(operator)
    first = next_weekday(2, min_days=2)
    ics = village_calendar(first, count=1, exdate=None).decode()
    created = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports", json={"ics": ics}
    )
    assert created.status_code == 201 and created.get_json()["result"]["added"] == 3
    bad = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports", json={"ics": "not a calendar"}
    )
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_input"
    desk_import = client.post(
        f"/api/v1/resources/{desk.id}/calendar-imports", json={"ics": ics}
    )
    assert desk_import.status_code == 400
    outsider = api(create_location().operators[0])
    assert (
        outsider.post(
            f"/api/v1/resources/{room.id}/calendar-imports", json={"ics": ics}
        ).status_code
        == 403
    )
    assert (
        api(create_user())
        .get(f"/api/v1/resources/{room.id}/calendar-imports")
        .status_code
        == 403
    )


def test_refresh_all_for_cron(db, served, space):
    location, desk, room = space
    operator = location.operators[0]
    first = next_weekday(2, min_days=2)
    served.body = village_calendar(first, count=2, exdate=None)
    source, result = calendar_services.create_import(
        db, operator, location.id, resource_id=room.id, name="x", url=served.url
    )
    assert result.added == 4
    served.body = village_calendar(first, count=3, exdate=None)
    outcomes = calendar_services.refresh_all_imports(db, now=datetime.now(UTC))
    assert outcomes == {source.id: "+1 ~0 -0"}
    assert calendar_services.refresh_all_imports(db) == {source.id: "+0 ~0 -0"}


def import_count(db) -> int:
    from sqlalchemy import func, select

    from booking.calendars.models import CalendarImport

    db.rollback()  # end the test session's read snapshot
    return db.scalar(select(func.count(CalendarImport.id)))


def test_import_refuses_internal_addresses_by_default(db, api, internal, space):
    location, desk, room = space
    client = api(location.operators[0])
    port = internal.server.server_address[1]
    closed = _Served()
    closed_port = closed.server.server_address[1]
    closed.close()
    for url in (
        internal.url,
        f"http://localhost:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://127.0.0.1:{closed_port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://224.0.0.1/",
    ):
        response = client.post(
            f"/api/v1/resources/{room.id}/calendar-imports", json={"url": url}
        )
        assert response.status_code == 400, url
        body = response.get_json()
        assert body["message"] == (
            "Calendars can only be loaded from public addresses."
        ), url
    # Refused before connecting: the internal service never saw a request,
    # and an open port answers as a closed one does.
    assert internal.requests == []
    assert import_count(db) == 0


def test_import_checks_every_redirect_hop(app, db, api, internal, space):
    location, desk, room = space
    # The first hop (on 127.0.0.2) counts as public here; the redirect to
    # 127.0.0.1 then meets the default policy as any hop does.
    hop = _Served("127.0.0.2")
    hop.redirect = internal.url
    trusted = ipaddress.ip_address("127.0.0.2")
    with pytest.raises(InvalidInput) as refused:
        fetch.fetch_calendar(
            hop.url,
            allowed=lambda a: a == trusted or fetch.address_allowed(a),
        )
    assert str(refused.value.message) == (
        "Calendars can only be loaded from public addresses."
    )
    assert len(hop.requests) == 1 and internal.requests == []
    # With the intranet setting on, a redirect to the cloud metadata address
    # is still refused.
    app.config["CALENDAR_IMPORT_ALLOW_PRIVATE"] = True
    hop.redirect = "http://169.254.169.254/latest/meta-data/"
    response = api(location.operators[0]).post(
        f"/api/v1/resources/{room.id}/calendar-imports", json={"url": hop.url}
    )
    assert response.status_code == 400
    hop.close()
    assert import_count(db) == 0


@pytest.mark.parametrize(
    ("address", "default", "intranet"),
    [
        ("93.184.216.34", True, True),
        ("2606:2800:220:1:248:1893:25c8:1946", True, True),
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.1.2.3", False, True),
        ("192.168.1.10", False, True),
        ("fd00::1", False, True),
        ("::ffff:10.0.0.1", False, True),
        ("169.254.169.254", False, False),
        ("fe80::1", False, False),
        ("224.0.0.1", False, False),
        ("0.0.0.0", False, False),
        ("240.0.0.1", False, False),
        ("100.64.0.1", False, False),
    ],
)
def test_address_policy(address, default, intranet):
    ip = ipaddress.ip_address(address)
    assert fetch.address_allowed(ip) is default
    assert fetch.address_allowed(ip, allow_private=True) is intranet


def test_failed_import_echoes_nothing_and_keeps_no_row(db, api, served, space):
    location, desk, room = space
    client = api(location.operators[0])
    served.body = b"SECRET-INTERNAL-PAGE\r\nBEGIN:VCALENDAR\r\nbroken"
    response = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports", json={"url": served.url}
    )
    assert response.status_code == 400
    assert b"SECRET" not in response.data
    # An uploaded file that is not iCalendar: 400 and no row either.
    uploaded = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports",
        json={"ics": "SECRET-INTERNAL-PAGE"},
    )
    assert uploaded.status_code == 400 and b"SECRET" not in uploaded.data
    # A redirect loop ends after a few hops.
    served.redirect = "/again.ics"
    looping = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports", json={"url": served.url}
    )
    assert looping.status_code == 400
    assert looping.get_json()["message"] == "The calendar address redirects too often."
    assert len(served.requests) == 1 + fetch.MAX_REDIRECTS + 1
    assert import_count(db) == 0


def test_import_caps_size_and_time(app, db, api, served, space):
    location, desk, room = space
    client = api(location.operators[0])
    served.body = b"X" * (fetch.MAX_BYTES + 1)
    response = client.post(
        f"/api/v1/resources/{room.id}/calendar-imports", json={"url": served.url}
    )
    assert response.get_json()["message"] == "The calendar file is too large."
    assert import_count(db) == 0

    # A server that never answers is given up on at the deadline.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    started = time.monotonic()
    with pytest.raises(InvalidInput):
        fetch.fetch_calendar(
            f"http://127.0.0.1:{listener.getsockname()[1]}/",
            allow_private=True,
            timeout=0.5,
        )
    assert time.monotonic() - started < 2
    listener.close()
    assert fetch.TIMEOUT_S == 10 and fetch.MAX_BYTES == 2 * 1024 * 1024


def test_manage_page_import_failure_keeps_no_row(db, client, auth, space):
    location, desk, room = space
    auth.login(location.operators[0].email)
    path = f"/manage/locations/{location.id}/calendars"
    response = client.post(
        path,
        data={
            "csrf_token": auth.csrf(path),
            "resource_id": str(room.id),
            "name": "Broken",
            "file": (io.BytesIO(b"not a calendar"), "events.ics"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert import_count(db) == 0


def test_long_names_fold_and_escape_for_both_parsers(
    db, mailbox, create_location, create_resource, create_user
):
    location = create_location(
        name="Alte Schule; Groß-Dölzig, Ortsteil " + "Süd" * 20,
        address='Schulstraße 1, 04827 Machern "Hof"',
        lat=51.00001,
        lon=-0.5,
    )
    desk = create_resource(location, "desk", "Tisch ä,ö;ü\\ " + "x" * 90)
    member = create_user(name='Anna "Nana" Müller, Jr.; Dr.')
    create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    [mail] = mailbox.wait(1)
    body = calendar_part(mail).get_payload(decode=True)
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    [event] = events_by_uid(body).values()
    summary = f"{desk.name} · {location.name}"
    assert str(event["SUMMARY"]) == summary
    assert event["GEO"].latitude == pytest.approx(51.00001)
    assert event["GEO"].longitude == pytest.approx(-0.5)
    [other] = vobject_events(body).values()
    assert other.summary.value == summary
    assert other.location.value == f"{location.name}, {location.address}"
    assert other.attendee.params["CN"] == ["Anna Nana Müller, Jr.; Dr."]
    assert other.description.value.startswith(f"{location.name}\n{location.address}")
