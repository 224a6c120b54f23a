"""Periodic jobs: one runner, a schedule, a database lease per job.

``flask --app booking jobs run`` loops over the jobs and runs each one that is
due. Whether a job is due and whether this process may run it are decided by
one UPDATE of the job's row (``job_states``) that succeeds only while nobody
holds the lease and the next run time has come, so any number of runners on
any number of hosts run each job once per period. A runner that dies keeps
the lease until it expires (``JOBS_LEASE_S``); then another takes over.

A job whose service is not configured (no Stripe key, mail only logged) is
recorded as skipped with the reason, not as failed.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.orm import Session

from ..db import Database, utcnow
from ..upsert import conflict_insert
from .logs import request_id
from .models import JobState

log = logging.getLogger(__name__)

# A failed job is tried again after at most this long, whatever its period.
RETRY_AFTER_FAILURE = timedelta(minutes=5)


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Session], str]
    summary: str
    # The reason the job cannot run with this configuration, or None.
    unconfigured: Callable[[Mapping[str, Any]], str | None] = lambda _config: None


def _expire_holds(db: Session) -> str:
    from ..billing.services import expire_holds

    return f"released={expire_holds(db)}"


def _reconcile(db: Session) -> str:
    from ..billing.services import reconcile

    return " ".join(f"{k}={v}" for k, v in reconcile(db).items())


def _send_reminders(db: Session) -> str:
    from ..notifications.services import send_reminders
    from ..passes.services import remind_renewals

    return f"reminders={send_reminders(db)} renewals={remind_renewals(db)}"


def _renew_memberships(db: Session) -> str:
    from ..billing.services import renew_memberships

    return " ".join(f"{k}={v}" for k, v in renew_memberships(db).items())


def _remind_payments(db: Session) -> str:
    from ..notifications.payments import remind_overdue_payments

    return f"reminders={remind_overdue_payments(db)}"


def _release_unchecked(db: Session) -> str:
    from ..checkin.services import release_unchecked

    return f"released={len(release_unchecked(db))}"


def _import_calendars(db: Session) -> str:
    from ..calendars.services import refresh_all_imports

    outcomes = refresh_all_imports(db)
    failed = [str(i) for i, outcome in outcomes.items() if outcome.startswith("fail")]
    if failed:
        # One unreachable village calendar must not hide the others' results.
        raise RuntimeError(f"calendar import(s) {', '.join(failed)} failed")
    return f"calendars={len(outcomes)}"


def _anonymise_door_log(db: Session) -> str:
    from ..privacy.services import anonymise_door_log

    return f"anonymised={anonymise_door_log(db)}"


def _issue_invoices(db: Session) -> str:
    from ..invoicing.monthly import issue_due_invoices

    done = issue_due_invoices(db, now=utcnow())
    return " ".join(f"{k}={v}" for k, v in done.items())


def _needs_stripe(config: Mapping[str, Any]) -> str | None:
    return None if config.get("STRIPE_SECRET_KEY") else "STRIPE_SECRET_KEY is not set"


def _needs_mail(config: Mapping[str, Any]) -> str | None:
    # Reminders are recorded as sent: logging them would lose them for good.
    if config.get("MAIL_URL", "console") == "console":
        return "MAIL_URL is not set (mails are only logged)"
    return None


JOBS: tuple[Job, ...] = (
    Job(
        "expire-holds",
        timedelta(minutes=1),
        _expire_holds,
        "release bookings and close orders whose payment hold ran out",
    ),
    Job(
        "billing-reconcile",
        timedelta(minutes=15),
        _reconcile,
        "repair what lost Stripe webhooks left behind",
        _needs_stripe,
    ),
    Job(
        "send-reminders",
        timedelta(hours=1),
        _send_reminders,
        "day-before reminders and renewal notices",
        _needs_mail,
    ),
    Job(
        "renew-memberships",
        timedelta(hours=1),
        _renew_memberships,
        "open the next month's order of memberships paid by transfer or on site",
    ),
    Job(
        "payment-reminders",
        timedelta(hours=1),
        _remind_payments,
        "one reminder for invoices and on-site orders unpaid past their due date",
        _needs_mail,
    ),
    Job(
        "release-unchecked",
        timedelta(minutes=5),
        _release_unchecked,
        "free flex bookings nobody checked in to",
    ),
    Job(
        "import-calendars",
        timedelta(hours=1),
        _import_calendars,
        "re-read external calendars that block rooms",
    ),
    Job(
        "issue-invoices",
        timedelta(hours=6),
        _issue_invoices,
        "companies' monthly invoices, and invoices that waited for an issuer",
    ),
    Job(
        "anonymise-door-log",
        timedelta(days=1),
        _anonymise_door_log,
        "strip people from door-log entries past retention",
    ),
)

_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_schedule(text: str) -> dict[str, timedelta | None]:
    """``"send-reminders=30m, import-calendars=off"`` -> periods (None: off).

    Raises ValueError naming what it does not understand.
    """
    known = {job.name for job in JOBS}
    schedule: dict[str, timedelta | None] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip().lower()
        if name not in known:
            raise ValueError(f"JOBS_SCHEDULE: unknown job {name!r}")
        if value == "off":
            schedule[name] = None
            continue
        match = _DURATION.match(value)
        if not match or int(match.group(1)) == 0:
            raise ValueError(f"JOBS_SCHEDULE: {item!r} is not NAME=<n>[s|m|h|d]|off")
        schedule[name] = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    return schedule


def periods(config: Mapping[str, Any]) -> dict[str, timedelta | None]:
    """Each job's period under this configuration (None: switched off)."""
    overrides = parse_schedule(str(config.get("JOBS_SCHEDULE") or ""))
    return {job.name: overrides.get(job.name, job.every) for job in JOBS}


@dataclass(frozen=True)
class Outcome:
    job: str
    outcome: str  # ok, failed, skipped
    message: str
    duration_ms: int


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def _write(database: Database) -> Iterator[Connection]:
    # SQLite writers queue on the writer lock like every unit of work does.
    queue = database.writer_queue
    with queue.hold() if queue else nullcontext():
        with database.engine.begin() as conn:
            yield conn


def _ensure_rows(database: Database) -> None:
    with database.engine.connect() as conn:
        present = set(conn.scalars(select(JobState.name)))
    missing = [job.name for job in JOBS if job.name not in present]
    if not missing:
        return
    insert = conflict_insert(database.engine.dialect.name)
    with _write(database) as conn:
        conn.execute(
            insert(JobState)
            .values([{"name": name, "last_message": ""} for name in missing])
            .on_conflict_do_nothing()
        )


def _take_lease(
    database: Database, name: str, holder: str, now: datetime, lease: timedelta
) -> bool:
    with _write(database) as conn:
        taken = conn.execute(
            update(JobState)
            .where(
                JobState.name == name,
                or_(JobState.lease_until.is_(None), JobState.lease_until < now),
                or_(JobState.next_run_at.is_(None), JobState.next_run_at <= now),
            )
            .values(holder=holder, lease_until=now + lease, last_started_at=now)
        )
        return taken.rowcount == 1


def _finish(
    database: Database,
    name: str,
    holder: str,
    started: datetime,
    period: timedelta,
    outcome: Outcome,
) -> None:
    now = utcnow()
    wait = period if outcome.outcome != "failed" else min(period, RETRY_AFTER_FAILURE)
    values: dict[str, Any] = {
        "holder": None,
        "lease_until": None,
        "next_run_at": started + wait,
        "last_finished_at": now,
        "last_outcome": outcome.outcome,
        "last_message": outcome.message[:1000],
        "last_duration_ms": outcome.duration_ms,
    }
    if outcome.outcome == "ok":
        values["last_success_at"] = now
    with _write(database) as conn:
        conn.execute(
            update(JobState)
            .where(JobState.name == name, JobState.holder == holder)
            .values(**values)
        )


def run_due(
    database: Database,
    db: Session,
    config: Mapping[str, Any],
    *,
    holder: str | None = None,
    now: datetime | None = None,
) -> list[Outcome]:
    """Run every job that is due and whose lease this process gets.

    ``db`` is the session the jobs use; it is closed after each job. Returns
    what ran (jobs due elsewhere or not due are not listed). A job's exception
    is logged and recorded as its failure; it never stops the other jobs.
    """
    holder = holder or holder_name()
    schedule = periods(config)
    lease = timedelta(seconds=int(config.get("JOBS_LEASE_S", 900)))
    _ensure_rows(database)
    outcomes = []
    for job in JOBS:
        period = schedule[job.name]
        if period is None:
            continue
        started = now or utcnow()
        if not _take_lease(database, job.name, holder, started, lease):
            continue
        clock = time.perf_counter()
        token = request_id.set(f"job:{job.name}")  # on every line it logs
        reason = job.unconfigured(config)
        if reason:
            result, message = "skipped", reason
        else:
            try:
                result, message = "ok", job.run(db)
            except Exception as error:
                log.exception("job %s failed", job.name)
                result, message = "failed", f"{type(error).__name__}: {error}"
            finally:
                db.rollback()
                db.close()
        request_id.reset(token)
        outcome = Outcome(
            job.name, result, message, round((time.perf_counter() - clock) * 1000)
        )
        _finish(database, job.name, holder, started, period, outcome)
        log.info(
            "job %s %s in %d ms: %s",
            job.name,
            outcome.outcome,
            outcome.duration_ms,
            outcome.message,
            extra={"job": job.name, "outcome": outcome.outcome},
        )
        outcomes.append(outcome)
    return outcomes


def job_states(db: Session) -> dict[str, JobState]:
    return {state.name: state for state in db.scalars(select(JobState))}
