"""GET /metrics: the process counters of ``booking.metrics`` plus what the
database knows, read at scrape time (so every worker and host agrees)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from .. import metrics
from ..db import Database


class DatabaseCollector(Collector):
    """Gauges computed from the database at each scrape."""

    def __init__(self, database: Database):
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from ..access.models import Door
        from ..bookings.models import Booking
        from .models import JobState

        with self.database.engine.connect() as conn:
            doors = dict(
                conn.execute(
                    select(Door.online, func.count())
                    .where(Door.is_active.is_(True))
                    .group_by(Door.online)
                ).all()
            )
            waiting = conn.scalar(
                select(func.count())
                .select_from(Booking)
                .where(Booking.mail_due.is_not(None))
            )
            jobs = conn.execute(
                select(JobState.name, JobState.last_success_at, JobState.last_outcome)
            ).all()
        online = GaugeMetricFamily(
            "landdesk_doors_online", "Active doors whose controller is online"
        )
        online.add_metric([], doors.get(True, 0))
        yield online
        known = GaugeMetricFamily("landdesk_doors", "Active doors")
        known.add_metric([], sum(doors.values()))
        yield known
        mails = GaugeMetricFamily(
            "landdesk_mails_waiting", "Bookings whose mail is not sent yet"
        )
        mails.add_metric([], waiting or 0)
        yield mails
        success = GaugeMetricFamily(
            "landdesk_job_last_success_timestamp_seconds",
            "When each periodic job last succeeded (Unix time)",
            labels=["job"],
        )
        failing = GaugeMetricFamily(
            "landdesk_job_failing",
            "1 when a periodic job's last run failed",
            labels=["job"],
        )
        for name, last_success_at, outcome in jobs:
            if last_success_at is not None:
                success.add_metric([name], last_success_at.timestamp())
            failing.add_metric([name], 1 if outcome == "failed" else 0)
        yield success
        yield failing


def scrape(database: Database) -> bytes:
    """The Prometheus text exposition of every metric."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process = CollectorRegistry()
        multiprocess.MultiProcessCollector(process)
    else:
        process = REGISTRY
    from_db = CollectorRegistry(auto_describe=False)
    from_db.register(DatabaseCollector(database))
    return generate_latest(process) + generate_latest(from_db)


class RequestTimer:
    """WSGI middleware: the latency of each request, labelled by the route
    the app matched (stored in the environ by ``note_route``)."""

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app
        # labels() takes a lock and builds a key each time: keep the children.
        self._children: dict[tuple[str, str], Any] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            key = (
                environ.get("REQUEST_METHOD", ""),
                environ.get("landdesk.route", "unmatched"),
            )
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = metrics.REQUEST_SECONDS.labels(*key)
            child.observe(time.perf_counter() - started)
