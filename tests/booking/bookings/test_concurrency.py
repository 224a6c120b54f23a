"""No double booking under real concurrency.

The app runs under gunicorn with several worker processes on a file database
(the suite's SQLite file or the PostgreSQL test database). Client processes
open their connections, meet at a barrier and then all POST at once; the
database afterwards must hold exactly what the winners were told.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from booking.auth.models import SessionKind
from booking.auth.services import start_session
from booking.bookings.models import ACTIVE_STATUSES, Booking, BookingSlot
from booking.spaces.models import Resource
from tests.conftest import CSRF_RE, next_weekday
from tests.support.servers import start_app_server

CLIENT_PROCESSES = 5
THREADS_PER_PROCESS = 10
REQUESTS = CLIENT_PROCESSES * THREADS_PER_PROCESS
WORKERS = 4
TAKEN = "This is already booked for that time."
AREA_FULL = "All seats of this area are booked at that time."


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    server = start_app_server(
        database_url, workers=WORKERS, log_dir=tmp_path_factory.mktemp("gunicorn")
    )
    assert len(server.worker_pids()) == WORKERS
    yield server
    server.stop()


@pytest.fixture
def members(db, create_user) -> list[str]:
    """Bearer tokens of REQUESTS distinct members."""
    tokens = [
        start_session(db, create_user(), SessionKind.API) for _ in range(REQUESTS)
    ]
    return tokens


def _client_process(host, port, barrier, jobs, results) -> None:
    """One client process: a thread per request, all released by the barrier."""

    def fire(index: int, path: str, body: bytes, headers: dict) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=60)
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.getheader("Content-Type", "").startswith("application/json"):
                payload = json.loads(data)
            else:
                payload = {"location": response.getheader("Location")}
            results.put((index, response.status, payload))
        except Exception as error:  # reported to the test, which fails
            results.put((index, -1, {"exception": repr(error)}))
        finally:
            conn.close()

    threads = [threading.Thread(target=fire, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def api_post(token: str, body: dict) -> tuple[str, bytes, dict]:
    """A bearer-token booking (the API)."""
    return (
        "/api/v1/bookings",
        json.dumps(body).encode(),
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept-Language": "en",
        },
    )


def form_post(browser: Browser, values: dict) -> tuple[str, bytes, dict]:
    """A booking through the web form (cookie and CSRF token)."""
    body = urlencode({**values, "csrf_token": browser.csrf_token, "back": "/"})
    return (
        "/bookings",
        body.encode(),
        {
            "Cookie": browser.cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept-Language": "en",
        },
    )


def race_requests(server, requests: list[tuple[str, bytes, dict]]) -> list:
    """POST every request at once; (status, json or redirect) in order."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(requests))
    results = ctx.Queue()
    jobs: list[list] = [[] for _ in range(CLIENT_PROCESSES)]
    for index, request in enumerate(requests):
        jobs[index % CLIENT_PROCESSES].append((index, *request))
    processes = [
        ctx.Process(
            target=_client_process,
            args=(server.host, server.port, barrier, job, results),
        )
        for job in jobs
    ]
    for process in processes:
        process.start()
    collected = {}
    for _ in requests:
        index, status, payload = results.get(timeout=90)
        collected[index] = (status, payload)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return [collected[i] for i in range(len(requests))]


def race(server, tokens: list[str], bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST every body at once to the API, each with its own member's token.

    Returns (status, json) in the order of ``bodies``.
    """
    assert len(tokens) == len(bodies)
    return race_requests(
        server, [api_post(t, b) for t, b in zip(tokens, bodies, strict=True)]
    )


@dataclass
class Browser:
    cookie: str
    csrf_token: str


def log_in(server, email: str, password: str = "password123") -> Browser:
    """Log in through the server's real login form; the browser's cookie."""
    web = requests.Session()
    web.headers["Accept-Language"] = "en"
    page = web.get(server.url + "/login").text
    token = CSRF_RE.search(page).group(1)
    response = web.post(
        server.url + "/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    token = CSRF_RE.search(web.get(server.url + "/").text).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in web.cookies)
    return Browser(cookie, token)


def _fresh(db):
    """End the test's own transaction so it sees what the server committed."""
    db.rollback()
    return db


def _live_bookings(db, resource_id: int) -> list[Booking]:
    return list(
        _fresh(db).scalars(
            select(Booking).where(
                Booking.resource_id == resource_id, Booking.status.in_(ACTIVE_STATUSES)
            )
        )
    )


def _slots(db, resource_id: int) -> list[tuple[int, int, int]]:
    rows = _fresh(db).execute(
        select(BookingSlot.seat, BookingSlot.slot, BookingSlot.booking_id).where(
            BookingSlot.resource_id == resource_id
        )
    )
    return sorted(tuple(row) for row in rows)


def _split(results):
    unexpected = [r for r in results if r[0] not in (201, 409)]
    assert not unexpected, unexpected
    won = [payload for status, payload in results if status == 201]
    lost = [payload for status, payload in results if status == 409]
    return won, lost


def _assert_clear_conflicts(lost: list[dict], messages: set[str]) -> None:
    for payload in lost:
        assert payload["error"] == "conflict"
        assert payload["message"] in messages, payload


def test_one_desk_many_members_exactly_one_wins(
    server, db, create_location, create_resource, members
):
    location = create_location()
    desk = create_resource(location, "desk", "Desk by the window")
    day = next_weekday(1)
    body = {"resource_id": desk.id, "date": day.isoformat()}

    won, lost = _split(race(server, members, [body] * REQUESTS))

    assert len(won) == 1
    assert len(lost) == REQUESTS - 1
    _assert_clear_conflicts(lost, {TAKEN})
    live = _live_bookings(db, desk.id)
    assert [b.id for b in live] == [won[0]["id"]]
    assert db.scalar(select(func.count(Booking.id))) == 1
    base = day.toordinal() * 2
    assert _slots(db, desk.id) == [(0, base, live[0].id), (0, base + 1, live[0].id)]


def test_flex_area_of_five_seats_takes_exactly_five(
    server, db, create_location, create_resource, members
):
    location = create_location()
    area = create_resource(location, "flex", "Open space", capacity=5)
    day = next_weekday(2)
    body = {"resource_id": area.id, "date": day.isoformat()}

    won, lost = _split(race(server, members, [body] * REQUESTS))

    assert len(won) == 5
    assert sorted(payload["seat"] for payload in won) == [0, 1, 2, 3, 4]
    assert len(lost) == REQUESTS - 5
    _assert_clear_conflicts(lost, {AREA_FULL, TAKEN})
    live = _live_bookings(db, area.id)
    assert sorted(b.id for b in live) == sorted(payload["id"] for payload in won)
    base = day.toordinal() * 2
    expected = sorted((b.seat, slot, b.id) for b in live for slot in (base, base + 1))
    assert _slots(db, area.id) == expected


def test_full_and_half_days_racing_never_overlap(
    server, db, create_location, create_resource, members
):
    location = create_location()
    desk = create_resource(location, "desk", "Corner desk")
    day = next_weekday(3)
    parts = ["full", "am", "pm"]
    bodies = []
    for index in range(REQUESTS):
        body = {"resource_id": desk.id, "date": day.isoformat()}
        if parts[index % 3] != "full":
            body["part"] = parts[index % 3]
        bodies.append(body)

    won, lost = _split(race(server, members, bodies))

    won_parts = sorted(payload["part"] for payload in won)
    # Either the full day won alone, or one morning and one afternoon.
    assert won_parts in (["full"], ["am", "pm"])
    assert len(lost) == REQUESTS - len(won)
    _assert_clear_conflicts(lost, {TAKEN})
    live = _live_bookings(db, desk.id)
    assert sorted(b.id for b in live) == sorted(payload["id"] for payload in won)
    for first in live:
        for second in live:
            if first.id != second.id:
                assert (
                    first.ends_at <= second.starts_at
                    or second.ends_at <= first.starts_at
                )
    base = day.toordinal() * 2
    slots = _slots(db, desk.id)
    assert [slot for _, slot, _ in slots] == [base, base + 1]
    assert {booking_id for _, _, booking_id in slots} == {b.id for b in live}


def test_one_member_many_desks_at_once_gets_exactly_one(
    server, db, create_user, create_location, create_resource
):
    """One body, one desk: the same member asks for 20 desks of the same day
    at once (as from several phones); the person check must see across
    desks, not only within one."""
    location = create_location()
    desks = [create_resource(location, "desk", f"Desk {n}") for n in range(20)]
    token = start_session(db, create_user(), SessionKind.API)
    day = next_weekday(4)
    bodies = [{"resource_id": d.id, "date": day.isoformat()} for d in desks]

    won, lost = _split(race(server, [token] * len(bodies), bodies))

    assert len(won) == 1
    _assert_clear_conflicts(lost, {"You already have a desk booked at that time."})
    live = [b for d in desks for b in _live_bookings(db, d.id)]
    assert [b.id for b in live] == [won[0]["id"]]


@pytest.mark.parametrize("priced", [False, True], ids=["free", "priced"])
def test_token_form_and_operator_bookings_of_one_person_and_desk(
    server, db, create_user, create_location, create_resource, priced
):
    """One person, one workplace, one desk, one booking, whichever way a
    booking comes in: the member's API token and web form, and an operator
    booking for the member through the web form and the API, racing for the
    same desks of one day together with other members. Priced desks are
    held for payment (pending_payment), and a hold is a booking too."""
    operator = create_user(role="operator")
    location = create_location(operator)
    # The others race for the first four; the fifth only the member's ways,
    # so that one of them always wins.
    desks = [create_resource(location, "desk", f"Desk {n}") for n in range(5)]
    if priced:
        for desk in desks:
            db.get(Resource, desk.id).price_day_cents = 1500
        db.commit()
    member = create_user()
    others = [create_user() for _ in range(8)]
    member_token = start_session(db, member, SessionKind.API)
    operator_token = start_session(db, operator, SessionKind.API)
    other_tokens = [start_session(db, o, SessionKind.API) for o in others]
    member_web = log_in(server, member.email)
    operator_web = log_in(server, operator.email)
    day = next_weekday(2, min_days=3).isoformat()

    requests_ = []
    for round_ in range(3):
        for desk in desks:
            values = {"resource_id": desk.id, "date": day}
            requests_ += [
                api_post(member_token, values),
                form_post(member_web, values),
                form_post(operator_web, {**values, "member_email": member.email}),
                api_post(operator_token, {**values, "user_id": member.id}),
            ]
            if desk is not desks[-1]:
                other = other_tokens[(round_ * 4 + desk.id) % len(others)]
                requests_.append(api_post(other, values))
    results = race_requests(server, requests_)

    assert all(status in (201, 303, 409) for status, _ in results), results
    conflicts = [p for status, p in results if status == 409]
    # The operator's refusals name the member ("you" would be the operator).
    member_name = member.name or member.email
    _assert_clear_conflicts(
        conflicts,
        {
            TAKEN,
            "You already have a desk booked at that time.",
            f"{member_name} already has a desk booked at that time.",
        },
    )
    _fresh(db)
    live = list(
        db.scalars(
            select(Booking).where(
                Booking.resource_id.in_([d.id for d in desks]),
                Booking.status.in_(ACTIVE_STATUSES),
            )
        )
    )
    # The member holds exactly one of the desks; every desk has at most one
    # holder; every booking of the day owns its two slots, with its holder.
    assert [b.user_id for b in live].count(member.id) == 1
    assert len({b.resource_id for b in live}) == len(live)
    expected_status = "pending_payment" if priced else "confirmed"
    assert {b.status for b in live} == {expected_status}
    base = next_weekday(2, min_days=3).toordinal() * 2
    slots = _fresh(db).execute(
        select(BookingSlot.booking_id, BookingSlot.slot, BookingSlot.user_id).where(
            BookingSlot.resource_id.in_([d.id for d in desks])
        )
    )
    assert sorted(tuple(row) for row in slots) == sorted(
        (b.id, slot, b.user_id) for b in live for slot in (base, base + 1)
    )
    won_by_api = [p for status, p in results if status == 201]
    assert {p["id"] for p in won_by_api} <= {b.id for b in live}
