"""What one confirmation mail costs the mail worker, against one booking.

    .venv/bin/python bench/profile_mail.py --db /tmp/lbench/mail.sqlite
    .venv/bin/python bench/profile_mail.py --db ... --profile   # top functions

Books ``--mails`` desk-days through the Flask test client (token API, mails
owed, ``MAIL_DELIVERY=worker``), measuring this process's CPU per booking;
then runs ``deliver_booking_mails`` as the worker does until nothing is owed
(``MAIL_URL=console``, as ``http_load.py`` runs the worker) and prints the CPU
per mail and the ratio. The database must exist (``flask db upgrade``).
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import time

from common import database_url, make_app
from http_load import seed_bench_location

from booking.db import get_db
from booking.notifications.services import deliver_booking_mails


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    url = database_url(args.db)
    seed = seed_bench_location(url, mail=True)
    app = make_app(url)
    app.config["MAIL_DELIVERY"] = "worker"
    # The console "sends" through logging; keep its output out of the way.
    logging.getLogger("booking.mail").setLevel(logging.ERROR)
    client = app.test_client()
    desks, tokens, days = seed["desks"], seed["tokens"], seed["days"]

    def book(n: int) -> None:
        i = n % len(desks)
        response = client.post(
            "/api/v1/bookings",
            json={"resource_id": desks[i], "date": days[n // len(desks)]},
            headers={"Authorization": f"Bearer {tokens[i]}"},
        )
        assert response.status_code == 201, response.get_json()

    def deliver() -> int:
        sent = 0
        with app.app_context():
            db = get_db()
            while handled := deliver_booking_mails(db)[0]:
                sent += handled
        return sent

    for n in range(50):  # warm-up, mails included
        book(n)
    deliver()
    cpu = time.process_time()
    for n in range(50, 50 + args.mails):
        book(n)
    booking_ms = (time.process_time() - cpu) / args.mails * 1000
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    cpu = time.process_time()
    if profiler:
        profiler.enable()
    sent = deliver()
    if profiler:
        profiler.disable()
    mail_ms = (time.process_time() - cpu) / sent * 1000
    print(
        f"{booking_ms:.2f} ms CPU per booking, {mail_ms:.2f} ms CPU per mail"
        f" ({sent} mails{', profiled' if profiler else ''}):"
        f" a mail costs {mail_ms / booking_ms:.1f} bookings"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
