"""The service's Prometheus counters and histograms (served at /metrics).

A leaf module: the domains that count something import it, and it imports
no domain. Under gunicorn each worker counts in its own process; with
``PROMETHEUS_MULTIPROC_DIR`` set (deploy/gunicorn.conf.py sets it before the
app is imported) the values live in files there and a scrape of any worker
adds up all of them. Gauges that the database knows (doors online, mails
waiting, jobs) are read at scrape time instead (``ops.metrics``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Counter, Histogram

T = TypeVar("T")

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


def count_booking(create: Callable[..., T]) -> Callable[..., T]:
    """Count the outcome of the booking service it decorates: every booking
    goes through that one function, so they are counted in one place."""
    from .errors import DomainError

    @functools.wraps(create)
    def counted(*args, **kwargs) -> T:
        try:
            booking = create(*args, **kwargs)
        except DomainError:
            BOOKINGS.labels("refused").inc()
            raise
        BOOKINGS.labels("created").inc()
        return booking

    return counted
