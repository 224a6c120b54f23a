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

import pytest
from sqlalchemy import func, select

from booking.auth.models import SessionKind
from booking.auth.services import start_session
from booking.bookings.models import ACTIVE_STATUSES, Booking, BookingSlot
from tests.conftest import next_weekday
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

    def fire(index: int, token: str, body: dict) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=60)
            conn.request(
                "POST",
                "/api/v1/bookings",
                body=json.dumps(body),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Accept-Language": "en",
                },
            )
            response = conn.getresponse()
            results.put((index, response.status, json.loads(response.read())))
        except Exception as error:  # reported to the test, which fails
            results.put((index, -1, {"exception": repr(error)}))
        finally:
            conn.close()

    threads = [threading.Thread(target=fire, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def race(server, tokens: list[str], bodies: list[dict]) -> list[tuple[int, dict]]:
    """POST every body at once, each with its own member's token.

    Returns (status, json) in the order of ``bodies``.
    """
    assert len(tokens) == len(bodies)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(bodies))
    results = ctx.Queue()
    jobs: list[list] = [[] for _ in range(CLIENT_PROCESSES)]
    for index, (token, body) in enumerate(zip(tokens, bodies, strict=True)):
        jobs[index % CLIENT_PROCESSES].append((index, token, body))
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
    for _ in bodies:
        index, status, payload = results.get(timeout=90)
        collected[index] = (status, payload)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return [collected[i] for i in range(len(bodies))]


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
