"""Generate a large network: locations, resources, members and bookings.

    .venv/bin/python bench/generate.py --db /tmp/bench.sqlite --bookings 1000000
    .venv/bin/python bench/generate.py \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/landdesk_bench \
        --bookings 1000000

The database is created from scratch with the Alembic migrations. Bookings
fill every weekday of every resource backwards from ``--future-days`` ahead
until ``--bookings`` rows exist, so a larger count means a longer history
with the same future. Confirmed bookings get their ``booking_slots`` rows
(cancelled ones none), exactly as ``create_booking`` would have written
them, so the data obeys the double-booking guarantee. Their holder column
(``booking_slots.user_id``, one workplace per person) stays empty: members
are drawn at random, and the bench's own members (bench/http_load.py) book
through ``create_booking``, which fills it.

Rows go in through SQLAlchemy Core ``executemany`` (SQLite) or ``COPY``
(PostgreSQL), with the secondary indexes dropped during the load and built
afterwards, then ANALYZE.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from common import database_url, ensure_postgres_database, make_app
from sqlalchemy import insert, text

LOCATIONS = 200
RESOURCES_PER_LOCATION = 25  # 16 desks, 3 flex areas of 6, 4 rooms, 2 booths
MEMBERS = 20_000
BERLIN = ZoneInfo("Europe/Berlin")
# A precomputed argon2 hash: generated members cannot log in with a password.
PASSWORD_HASH = "$argon2id$v=19$m=1024,t=1,p=4$YmVuY2hiZW5jaA$bench"
BOOKING_COLUMNS = (
    "id, user_id, resource_id, location_id, seat, starts_at, ends_at, booked_on, "
    "part, status, created_at, created_by_id, cancelled_at, cancelled_by_id, "
    "sequence"
)
ROOM_TIMES = ((9, 10), (11, 13), (14, 16))  # local hours of room bookings


def resource_plan() -> list[tuple[str, str, int]]:
    plan = [("desk", f"Desk {n}", 1) for n in range(1, 17)]
    plan += [("flex", f"Open space {n}", 6) for n in range(1, 4)]
    plan += [("room", f"Meeting room {n}", 8) for n in range(1, 5)]
    plan += [("booth", f"Phone booth {n}", 1) for n in range(1, 3)]
    assert len(plan) == RESOURCES_PER_LOCATION
    return plan


def seed_network(conn) -> tuple[list[tuple[int, int, str]], int]:
    """Members, operators, locations and resources; returns the resources."""
    from booking.auth.models import User
    from booking.spaces.hours import default_opening_hours
    from booking.spaces.models import Location, Resource, location_operators

    now = datetime.now(UTC)
    users = [
        {
            "id": n,
            "email": f"member{n}@bench.invalid",
            "name": f"Member {n}",
            "password_hash": PASSWORD_HASH,
            "role": "member" if n > LOCATIONS else "operator",
            "locale": None,
            "is_active": True,
            "created_at": now,
            "password_changed_at": now,
        }
        for n in range(1, MEMBERS + LOCATIONS + 1)
    ]
    conn.execute(insert(User.__table__), users)
    rng = random.Random(1)
    locations = [
        {
            "id": n,
            "slug": f"ort-{n:03d}",
            "name": f"Coworking Ort {n}",
            "village": f"Dorf {n}",
            "address": f"Markt {n}, 04838 Eilenburg",
            "lat": 51.0 + rng.random(),
            "lon": 12.0 + rng.random(),
            "timezone": "Europe/Berlin",
            "operator_model": "classic",
            "description": "A generated location for the benchmarks.",
            "opening_hours": default_opening_hours(),
            "horizon_days": 30,
            "cancel_cutoff_hours": 0,
            "midday": "13:00",
            "is_active": True,
            "created_at": now,
        }
        for n in range(1, LOCATIONS + 1)
    ]
    conn.execute(insert(Location.__table__), locations)
    conn.execute(
        insert(location_operators),
        [{"location_id": n, "user_id": n} for n in range(1, LOCATIONS + 1)],
    )
    resources = []
    rows = []
    next_id = 1
    for location_id in range(1, LOCATIONS + 1):
        for position, (kind, name, capacity) in enumerate(resource_plan()):
            rows.append(
                {
                    "id": next_id,
                    "location_id": location_id,
                    "name": name,
                    "kind": kind,
                    "capacity": capacity,
                    "tags": ["monitor"] if kind == "desk" and position % 2 else [],
                    "description": "",
                    "position": position,
                    "is_active": True,
                    "created_at": now,
                }
            )
            resources.append((next_id, location_id, kind, capacity))
            next_id += 1
    conn.execute(insert(Resource.__table__), rows)
    return resources, MEMBERS + LOCATIONS


class DayTimes:
    """UTC instants and slot numbers of one local date, as strings per backend."""

    def __init__(self, day: date, suffix: str):
        def at(hour: int) -> datetime:
            return datetime(
                day.year, day.month, day.day, hour, tzinfo=BERLIN
            ).astimezone(UTC)

        def s(instant: datetime) -> str:
            return instant.strftime("%Y-%m-%d %H:%M:%S") + suffix

        self.day = day.isoformat()
        self.am = (s(at(8)), s(at(13)))
        self.pm = (s(at(13)), s(at(18)))
        self.full = (s(at(8)), s(at(18)))
        self.created = s(at(8) - timedelta(days=3))
        base = day.toordinal() * 2
        self.slots = {"full": (base, base + 1), "am": (base,), "pm": (base + 1,)}
        self.rooms = []
        for start, end in ROOM_TIMES:
            begin, finish = at(start), at(end)
            slots = tuple(
                range(int(begin.timestamp()) // 1800, int(finish.timestamp()) // 1800)
            )
            self.rooms.append((s(begin), s(finish), slots))


def generate_day(day: DayTimes, resources, rng: random.Random, state: dict):
    """Bookings and slots of every resource on one day."""
    bookings, slots = state["bookings"], state["slots"]
    members = state["members"]

    def add(resource_id, location_id, seat, span, part, slot_ids):
        state["id"] += 1
        booking_id = state["id"]
        cancelled = rng.random() < 0.08
        bookings.append(
            (
                booking_id,
                rng.randint(LOCATIONS + 1, members),
                resource_id,
                location_id,
                seat,
                span[0],
                span[1],
                day.day,
                part,
                "cancelled" if cancelled else "confirmed",
                day.created,
                None,
                day.created if cancelled else None,
                None,
                1 if cancelled else 0,
            )
        )
        if not cancelled:
            for slot in slot_ids:
                slots.append((resource_id, seat, slot, booking_id))

    for resource_id, location_id, kind, capacity in resources:
        roll = rng.random()
        if kind == "desk":
            if roll < 0.55:
                add(resource_id, location_id, 0, day.full, "full", day.slots["full"])
            elif roll < 0.65:
                add(resource_id, location_id, 0, day.am, "am", day.slots["am"])
            elif roll < 0.75:
                add(resource_id, location_id, 0, day.am, "am", day.slots["am"])
                add(resource_id, location_id, 0, day.pm, "pm", day.slots["pm"])
        elif kind == "flex":
            for seat in range(int(roll * (capacity + 1))):
                add(resource_id, location_id, seat, day.full, "full", day.slots["full"])
        else:
            for begin, finish, slot_ids in day.rooms:
                if rng.random() < 0.5:
                    add(
                        resource_id,
                        location_id,
                        0,
                        (begin, finish),
                        "hours",
                        slot_ids,
                    )


def _copy(raw, table: str, columns: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write(
            "\t".join("\\N" if value is None else str(value) for value in row) + "\n"
        )
    sql = f"COPY {table} ({columns}) FROM STDIN"
    with raw.cursor() as cursor:
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(sql) as copy:
                copy.write(buffer.getvalue())
        else:
            buffer.seek(0)
            cursor.copy_expert(sql, buffer)


def write_batch(conn, is_postgres: bool, bookings: list, slots: list) -> None:
    if is_postgres:
        raw = conn.connection.dbapi_connection
        _copy(raw, "bookings", BOOKING_COLUMNS, bookings)
        _copy(raw, "booking_slots", "resource_id, seat, slot, booking_id", slots)
        return
    marks = ", ".join("?" * 15)
    conn.exec_driver_sql(
        f"INSERT INTO bookings ({BOOKING_COLUMNS}) VALUES ({marks})", bookings
    )
    slots.sort()
    conn.exec_driver_sql(
        "INSERT INTO booking_slots (resource_id, seat, slot, booking_id) "
        "VALUES (?, ?, ?, ?)",
        slots,
    )


def secondary_indexes():
    from booking.bookings.models import Booking, BookingSlot

    return [*Booking.__table__.indexes, *BookingSlot.__table__.indexes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="SQLite path or SQLAlchemy URL")
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--future-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    url = database_url(args.db)
    is_postgres = url.startswith("postgresql")
    if is_postgres:
        ensure_postgres_database(url, recreate=True)
    else:
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    app = make_app(url)
    started = time.perf_counter()
    with app.app_context():
        from booking.cli import upgrade_database

        upgrade_database()
        engine = app.extensions["landdesk_db"].engine
        with engine.begin() as conn:
            resources, members = seed_network(conn)
        print(f"network: {LOCATIONS} locations, {len(resources)} resources")

        rng = random.Random(args.seed)
        state = {"id": 0, "bookings": [], "slots": [], "members": members}
        suffix = "+00" if is_postgres else ".000000"
        total_slots = 0
        day = date.today() + timedelta(days=args.future_days)
        first_day = day
        with engine.begin() as conn:
            if is_postgres:
                # Foreign keys are known to hold here; skip their triggers.
                conn.exec_driver_sql("SET session_replication_role = replica")
            for index in secondary_indexes():
                index.drop(conn, checkfirst=True)
            while state["id"] < args.bookings:
                if day.weekday() < 5:
                    generate_day(DayTimes(day, suffix), resources, rng, state)
                day -= timedelta(days=1)
                if len(state["bookings"]) >= 200_000 or state["id"] >= args.bookings:
                    total_slots += len(state["slots"])
                    write_batch(conn, is_postgres, state["bookings"], state["slots"])
                    state["bookings"], state["slots"] = [], []
                    print(
                        f"  {state['id']:>10,} bookings back to {day} "
                        f"({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
            print("building indexes ...", flush=True)
            for index in secondary_indexes():
                index.create(conn)
            if is_postgres:
                conn.exec_driver_sql("SET session_replication_role = DEFAULT")
                for table in ("users", "locations", "resources", "bookings"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        app.extensions["landdesk_db"].dispose()
    print(
        f"done: {state['id']:,} bookings and {total_slots:,} slots from {day} to "
        f"{first_day} in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
