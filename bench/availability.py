"""Latency of one location's availability for one day.

    .venv/bin/python bench/availability.py --db /tmp/lbench/1m.sqlite
    .venv/bin/python bench/availability.py --db postgresql+psycopg://...

Two measurements on a database made by bench/generate.py:

* in process: a fresh session, ``get_location`` + ``queries.location_day`` +
  the JSON shape, i.e. everything ``GET /api/v1/locations/<id>/availability``
  does apart from HTTP;
* over HTTP: the same endpoint served by gunicorn, one client sending one
  request after the other on a new connection each (what a phone does).

Locations and days are drawn at random (weekdays in the booked future and
in the history), so caches see realistic variety.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import time
from datetime import date, timedelta

from common import Timer, database_url, fmt, loadavg, make_app, percentiles

from tests.support.servers import start_app_server


def sample_days(rng: random.Random, count: int) -> list[date]:
    today = date.today()
    days = []
    while len(days) < count:
        # two thirds in the bookable future, one third in the past month
        offset = rng.randint(0, 28) if rng.random() < 0.67 else -rng.randint(1, 30)
        day = today + timedelta(days=offset)
        if day.weekday() < 5:
            days.append(day)
    return days


def in_process(url: str, iterations: int, rng: random.Random) -> dict:
    from booking.api import serialize
    from booking.bookings.queries import location_day
    from booking.db import get_database
    from booking.spaces.services import get_location

    app = make_app(url)
    days = sample_days(rng, iterations)
    samples = []
    resources = bookings = 0
    with app.app_context():
        database = get_database()
        for index in range(iterations + 50):
            location_id = rng.randint(1, 200)
            day = days[index % iterations]
            database.session.remove()
            db = database.session()
            with Timer() as timer:
                location = get_location(db, location_id)
                data = serialize.availability_json(location_day(db, location, day))
            if index >= 50:  # warm-up: imports, connection pool, statement cache
                samples.append(timer.elapsed)
                resources += len(data["resources"])
                bookings += sum(len(r["booked"]) for r in data["resources"])
        database.dispose()
    stats = percentiles(samples)
    stats["resources_per_answer"] = resources / iterations
    stats["booked_periods_per_answer"] = bookings / iterations
    return stats


def over_http(url: str, iterations: int, rng: random.Random, workers: int) -> dict:
    server = start_app_server(url, workers=workers)
    days = sample_days(rng, iterations)
    samples = []
    sizes = []
    try:
        for index in range(iterations + 50):
            path = (
                f"/api/v1/locations/{rng.randint(1, 200)}/availability"
                f"?date={days[index % iterations].isoformat()}"
            )
            start = time.perf_counter()
            conn = http.client.HTTPConnection(server.host, server.port)
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - start
            conn.close()
            assert response.status == 200, (response.status, body[:200])
            if index >= 50:
                samples.append(elapsed)
                sizes.append(len(body))
        json.loads(body)
    finally:
        server.stop()
    stats = percentiles(samples)
    stats["bytes"] = sum(sizes) / len(sizes)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    url = database_url(args.db)
    print(f"load average before: {loadavg()}")
    rng = random.Random(args.seed)
    stats = in_process(url, args.iterations, rng)
    print(
        f"location_day in process: {fmt(stats)} "
        f"({stats['resources_per_answer']:.0f} resources, "
        f"{stats['booked_periods_per_answer']:.1f} booked periods per answer)"
    )
    stats = over_http(url, args.iterations, rng, args.workers)
    print(f"GET availability over HTTP: {fmt(stats)} ({stats['bytes']:.0f} bytes)")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
