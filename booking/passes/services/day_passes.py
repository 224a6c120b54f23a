"""Day passes of the network: one day (or half day) at any location."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import DayPart
from ...bookings.queries import location_closed_on
from ...bookings.rules import plan_for
from ...errors import InvalidInput
from ...spaces.hours import local_date
from ...spaces.models import Location
from ..models import (
    NETWORK_TIMEZONE,
    Pass,
    PassStatus,
    Plan,
    PlanKind,
)
from .credits import _used

# How far ahead a network-wide day pass can be bought (a location's own
# passes follow its booking horizon).
NETWORK_DAY_PASS_HORIZON_DAYS = 90
DAY_PARTS = (DayPart.AM.value, DayPart.PM.value)


def day_pass_span(
    location: Location, day: date, part: str | None
) -> tuple[datetime, datetime] | None:
    """When a day pass for ``day`` is good at ``location``: its opening
    hours, or the morning or afternoon of them. None if closed then."""
    plan = plan_for(location, day)
    if not plan.is_open:
        return None
    if part == DayPart.AM:
        return plan.am
    if part == DayPart.PM:
        return plan.pm
    return plan.full


def check_day_pass_request(
    db: Session, plan: Plan, day: date, part: str | None, now: datetime
) -> str | None:
    """The day and half a day pass is bought for, checked before payment.

    Returns the part to store ("am", "pm" or None). Raises InvalidInput.
    """
    if plan.half_day:
        if part not in DAY_PARTS:
            raise InvalidInput(_l("Choose the morning or the afternoon."), field="part")
    elif part not in (None, "", DayPart.FULL.value):
        raise InvalidInput(_l("This pass is for the whole day."), field="part")
    else:
        part = None
    if plan.location_id is None:
        today = local_date(now, NETWORK_TIMEZONE)
        if day < today:
            raise InvalidInput(_l("That day is already over."), field="date")
        if day > today + timedelta(days=NETWORK_DAY_PASS_HORIZON_DAYS):
            raise InvalidInput(
                _l(
                    "Day passes can be bought at most %(days)d days ahead.",
                    days=NETWORK_DAY_PASS_HORIZON_DAYS,
                ),
                field="date",
            )
        return part
    location = db.get(Location, plan.location_id)
    span = day_pass_span(location, day, part)
    if span is None or location_closed_on(db, location.id, day):
        raise InvalidInput(_l("The location is closed on that day."), field="date")
    if span[1] <= now:
        raise InvalidInput(_l("That day is already over."), field="date")
    if day > local_date(now, location.timezone) + timedelta(days=location.horizon_days):
        raise InvalidInput(
            _l(
                "Bookings are possible at most %(days)d days ahead.",
                days=location.horizon_days,
            ),
            field="date",
        )
    return part


def day_pass_on_sale(db: Session, plan: Plan, day: date, now: datetime) -> bool:
    """Whether ``plan`` can be bought for ``day`` now (for a half-day plan:
    either half), by the check the purchase itself runs: a page offers no
    pass that the purchase would then refuse."""
    for part in DAY_PARTS if plan.half_day else (None,):
        try:
            check_day_pass_request(db, plan, day, part, now)
        except InvalidInput:
            continue
        return True
    return False


def day_pass_windows(
    db: Session, user: User, location: Location, now: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(pass id, from, until) of the person's paid day passes that open the
    doors of ``location`` today or tomorrow, not yet over."""
    today = local_date(now, location.timezone)
    passes = db.scalars(
        select(Pass).where(
            Pass.user_id == user.id,
            Pass.kind == PlanKind.DAY_PASS,
            Pass.valid_from.in_((today, today + timedelta(days=1))),
        )
    )
    return day_pass_windows_among(passes, user, location, now)


def day_pass_windows_among(
    passes: Iterable[Pass], user: User, location: Location, now: datetime
) -> list[tuple[int, datetime, datetime]]:
    """``day_pass_windows`` over passes already read (any of the person's,
    e.g. ``usable_passes``): the rule of which day passes open the door."""
    today = local_date(now, location.timezone)
    windows = []
    for pass_ in passes:
        if not (
            pass_.user_id == user.id
            and pass_.kind == PlanKind.DAY_PASS
            and pass_.status == PassStatus.ACTIVE
            and pass_.valid_from in (today, today + timedelta(days=1))
            and (pass_.location_id is None or pass_.location_id == location.id)
        ):
            continue
        span = day_pass_span(location, pass_.valid_from, pass_.day_part)
        if span is not None and span[1] > now:
            windows.append((pass_.id, span[0], span[1]))
    return windows


def day_passes_of(db: Session, user: User, limit: int = 50) -> list[Pass]:
    """The person's day passes, the latest date first."""
    return list(
        db.scalars(
            select(Pass)
            .where(Pass.user_id == user.id, Pass.kind == PlanKind.DAY_PASS)
            .order_by(Pass.valid_from.desc(), Pass.id.desc())
            .limit(limit)
        )
    )


def day_pass_in_use(db: Session, pass_: Pass) -> bool:
    """A booking holds this day pass's day (a credit consumed, not returned)."""
    return _used(db, pass_, "all") > 0
