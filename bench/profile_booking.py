"""Where a booking request spends its time, in one process.

    .venv/bin/python bench/profile_booking.py --db /tmp/lbench/1m.sqlite
    .venv/bin/python bench/profile_booking.py --db ... --sql   # count statements

Runs ``POST /api/v1/bookings`` through the Flask test client (the whole
stack but the HTTP server) for fresh desk/day pairs under cProfile, then
prints the mean time per request, the statements each request sends, and
the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from common import count_round_trips, database_url
from http_load import seed_bench_location

from booking.db import get_db
from booking.notifications.services import deliver_booking_mails


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--sql", action="store_true", help="print the statements")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="profile this process's CPU time, not wall time (throughput on a"
        " busy machine follows CPU; waits for the database are left out)",
    )
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument(
        "--form",
        action="store_true",
        help="web-form bookings (POST /bookings with the session cookie and"
        " CSRF token of members logged in through the login page) instead of"
        " token API bookings",
    )
    args = parser.parse_args()
    url = database_url(args.db)
    seed = seed_bench_location(url, mail=False)
    from common import make_app

    app = make_app(url)
    # The request path only: the mails are delivered at the end (below).
    app.config["MAIL_DELIVERY"] = "worker"
    client = app.test_client()
    desks, tokens, days = seed["desks"], seed["tokens"], seed["days"]
    statements: list[str] = []

    def call(n: int) -> None:
        i = n % len(desks)
        response = client.post(
            "/api/v1/bookings",
            json={"resource_id": desks[i], "date": days[n // len(desks)]},
            headers={"Authorization": f"Bearer {tokens[i]}"},
        )
        assert response.status_code == 201, response.get_json()

    if args.form:
        import re

        from http_load import FORM_PASSWORD

        browsers, csrf = [], []
        desks = desks[:100]
        for email in seed["form_emails"][: len(desks)]:
            browser = app.test_client()
            page = browser.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
            answer = browser.post(
                "/login",
                data={"email": email, "password": FORM_PASSWORD, "csrf_token": token},
            )
            assert answer.status_code == 302, answer.status_code
            page = browser.get("/bookings").get_data(as_text=True)
            csrf.append(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1])
            browsers.append(browser)

        def call(n: int) -> None:  # noqa: F811
            i = n % len(desks)
            response = browsers[i].post(
                "/bookings",
                data={
                    "resource_id": desks[i],
                    "date": days[n // len(desks)],
                    "back": "/",
                    "csrf_token": csrf[i],
                },
            )
            assert response.status_code == 303, response.status_code
            assert response.headers["Location"].endswith("/bookings"), response.headers

    for n in range(50):  # warm-up
        call(n)
    engine = app.extensions["landdesk_db"].engine

    stop_counting = count_round_trips(engine, statements)
    call(50)
    stop_counting()
    counted = list(statements)
    print(f"{len(counted)} statements per booking sent to the server, in order:")
    for statement in counted:
        print("  " + statement[: 160 if not args.sql else 2000])

    profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for n in range(51, 51 + args.requests):
        call(n)
    profiler.disable()
    elapsed = time.perf_counter() - start
    print(f"{elapsed / args.requests * 1000:.2f} ms per booking (profiled)")
    start, cpu_start = time.perf_counter(), time.process_time()
    for n in range(51 + args.requests, 51 + 2 * args.requests):
        call(n)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    print(
        f"{elapsed / args.requests * 1000:.2f} ms per booking (not profiled),"
        f" {cpu / args.requests * 1000:.2f} ms of this process's CPU"
    )
    with app.app_context():
        while deliver_booking_mails(get_db())[0]:  # leave no mail owed
            pass
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
