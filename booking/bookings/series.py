"""Several days at once: a run of days or "every Tuesday for 8 weeks".

Each day goes through the one booking path (services.create_booking), in its
own unit of work: a day that is refused (taken, closed, beyond the horizon)
leaves the days booked before and after it booked. The outcome says per day
what was booked and what was refused, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..auth.models import User
from ..db import unit_of_work
from ..errors import DomainError, InvalidInput
from ..spaces.hours import WEEKDAYS
from .models import Booking
from .requests import MAX_SERIES_DAYS, BookingRequest
from .services import create_booking


@dataclass(frozen=True)
class Refusal:
    day: date
    error: str  # the DomainError's code, as the API's errors
    message: str


@dataclass
class SeriesOutcome:
    booked: list[Booking] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def create_bookings(
    db: Session,
    actor: User,
    requests: list[BookingRequest],
    *,
    now: datetime | None = None,
) -> SeriesOutcome:
    """Book each request (one per day) through create_booking. Must not run
    inside a unit of work: each day commits on its own."""
    if db.info.get("in_unit_of_work"):
        raise RuntimeError("a series books each day in its own unit of work")
    outcome = SeriesOutcome()
    for request in requests:
        try:
            # A day of its own: in a request, a refused day undoes only itself.
            with unit_of_work(db, savepoint=True):
                outcome.booked.append(create_booking(db, actor, request, now=now))
        except DomainError as error:
            outcome.refused.append(Refusal(request.on, error.code, str(error.message)))
    return outcome


def weekly_days(first: date, weeks: int) -> list[date]:
    """The same weekday as ``first``, for ``weeks`` weeks (the web form's
    "every Tuesday for 8 weeks")."""
    if not 1 <= weeks <= 26:
        raise InvalidInput(_l("Choose 1 to 26 weeks."), field="weeks")
    return [first + timedelta(weeks=n) for n in range(weeks)]


def run_of_days(
    first: date, days: int, opening_hours: dict | None = None
) -> list[date]:
    """``days`` days in a row from ``first``, counting the weekdays the
    location opens (``opening_hours``): three days from a Friday are Friday,
    Monday and Tuesday, not a Friday and a weekend refused as closed. The
    first day is the one chosen, whatever it is; a day closed otherwise (a
    closure) is refused, and says so."""
    if not 1 <= days <= MAX_SERIES_DAYS:
        raise InvalidInput(
            _l("At most %(n)d days at once.", n=MAX_SERIES_DAYS), field="days"
        )
    open_weekdays = {
        number
        for number, name in enumerate(WEEKDAYS)
        if (opening_hours or {}).get(name)
    } or set(range(7))
    run, day = [first], first
    while len(run) < days:
        day += timedelta(days=1)
        if day.weekday() in open_weekdays:
            run.append(day)
    return run
