"""The service's Prometheus counters and histograms (served at /metrics).

A leaf module: it imports no domain. Bookings and unlocks are counted by
its receivers of the domain events (the end of this file, connected in
``create_app``), not by the services. Under gunicorn each worker counts in
its own process; with
``PROMETHEUS_MULTIPROC_DIR`` set (deploy/gunicorn.conf.py sets it before the
app is imported) the values live in files there and a scrape of any worker
adds up all of them. Gauges that the database knows (doors online, mails
waiting, jobs) are read at scrape time instead (``ops.metrics``).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from .db import on_commit

REQUEST_SECONDS = Histogram(
    "landdesk_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BOOKINGS = Counter(
    "landdesk_bookings",
    "Booking attempts by outcome (created, refused)",
    ["outcome"],
)
UNLOCKS = Counter(
    "landdesk_unlocks",
    "Door unlocks by outcome",
    ["outcome"],
)
UNLOCK_SECONDS = Histogram(
    "landdesk_unlock_duration_seconds",
    "Time from an unlock request to the door's answer (or the timeout)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10),
)
MAILS_FAILED = Counter(
    "landdesk_mails_failed",
    "Mails the mail server did not take (each is retried or given up)",
)


# --- counted by receivers of the domain events (connected in create_app) ----


def on_booking_placed(booking, *, db, **_kw) -> None:
    """events.booking_placed, inside the unit: counted once it commits."""
    on_commit(db, BOOKINGS.labels("created").inc)


def on_booking_refused(_error, **_kw) -> None:
    """events.booking_refused."""
    BOOKINGS.labels("refused").inc()


def on_unlock_audited(event, *, wait_s: float | None = None, **_kw) -> None:
    """events.unlock_audited, after the commit: every attempt by outcome,
    and the wait for the door where it was asked."""
    UNLOCKS.labels(str(event.result)).inc()
    if wait_s is not None:
        UNLOCK_SECONDS.observe(wait_s)
