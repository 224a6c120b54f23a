"""Booking rules: the overlap predicate, slots and the time window checks.

Pure functions; services call them and the database enforces what they imply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from ..errors import BookingConflict, Forbidden, InvalidInput
from ..i18n import timespan
from ..spaces.hours import DayPlan, day_plan
from ..spaces.models import DAY_KINDS, Closure, ResourceKind
from .models import DayPart

ROOM_STEP = timedelta(minutes=30)
ROOM_STEP_S = int(ROOM_STEP.total_seconds())
# Longest possible booking: a full day on the 25-hour day in October. Bounds
# range scans so that the size of the history does not matter.
MAX_BOOKING_LENGTH = timedelta(hours=26)

# A person holds at most one workplace and one room at any moment: a desk
# and a meeting room at the same time is normal, two desks are not.
WORKPLACE_KINDS = DAY_KINDS


def overlaps(a_start, a_end, b_start, b_end):
    """Half-open intervals [start, end) overlap; touching ones do not.

    ``&`` rather than ``and`` so that it works on datetimes and on SQL column
    expressions alike.
    """
    return (a_start < b_end) & (b_start < a_end)


def closures_on(location_id, day):
    """SQL: the closures of a location that cover ``day`` (of the whole
    location or of one resource)."""
    return (
        (Closure.location_id == location_id)
        & (Closure.starts_on <= day)
        & (Closure.ends_on >= day)
    )


def closes(location_id, day, resource_id=None):
    """SQL: a closure shuts ``resource_id`` on ``day``: one of the whole
    location or of that resource. Without a resource: one of the whole
    location (what a day pass or a fixed desk's door cares about)."""
    whole_location = Closure.resource_id.is_(None)
    if resource_id is not None:
        whole_location = whole_location | (Closure.resource_id == resource_id)
    return closures_on(location_id, day) & whole_location


def same_category_kinds(kind: ResourceKind) -> frozenset[ResourceKind]:
    if kind in WORKPLACE_KINDS:
        return WORKPLACE_KINDS
    return frozenset(ResourceKind) - WORKPLACE_KINDS


class BookableLocation(Protocol):
    """What the rules read of a location: a Location, or the values
    create_booking reads under its lock (services.LockedLocation)."""

    id: int
    timezone: str
    opening_hours: dict
    midday: str
    horizon_days: int


class BookableResource(Protocol):
    """What the rules (and pricing) read of a resource: a Resource, or
    statements.LockedResource."""

    id: int
    location_id: int
    name: str
    kind: ResourceKind
    price_day_cents: int
    price_half_day_cents: int
    price_hour_cents: int

    @property
    def seat_count(self) -> int: ...

    @property
    def is_day_bookable(self) -> bool: ...


def plan_for(location: BookableLocation, day: date) -> DayPlan:
    return day_plan(location.opening_hours, location.timezone, location.midday, day)


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime
    booked_on: date
    part: DayPart
    slots: tuple[int, ...]


def day_slots(day: date, part: DayPart, plan: DayPlan) -> tuple[int, ...]:
    """Logical slots of a desk: two per date, morning and afternoon.

    A day without a midday split (opening after midday, say) has one
    afternoon slot, so a full day and a half day still collide.
    """
    base = day.toordinal() * 2
    if not plan.has_half_days:
        return (base + 1,)
    return {DayPart.AM: (base,), DayPart.PM: (base + 1,)}.get(part, (base, base + 1))


def room_slots(starts_at: datetime, ends_at: datetime) -> tuple[int, ...]:
    first = int(starts_at.timestamp()) // ROOM_STEP_S
    last = int(ends_at.timestamp()) // ROOM_STEP_S
    return tuple(range(first, last))


def parse_date(value) -> date:
    """A day from JSON or a form, as date pickers send it (2026-12-24).
    Raises InvalidInput: an empty field asks for a date."""
    if isinstance(value, date):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        raise InvalidInput(_l("Choose a date."), field="date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            _l("This is not a valid date (YYYY-MM-DD)."), field="date"
        ) from None


def parse_instant(value, field: str) -> datetime:
    """ISO 8601 with an offset, e.g. 2026-03-29T10:00:00+02:00."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                _l("Times are ISO 8601 with an offset, e.g. 2026-05-04T10:00+02:00."),
                field=field,
            ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(
            _l("Times need a UTC offset, e.g. 2026-05-04T10:00+02:00."), field=field
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # At the ends of the calendar (0001-01-01T00:00+01:00): kept in its
        # own offset, and refused as past or too far ahead by the window.
        return parsed


def day_window(
    location: BookableLocation, resource: BookableResource, day: date, part: DayPart
) -> Window:
    if not resource.is_day_bookable:
        raise InvalidInput(
            _l("Rooms and booths are booked by the hour: give a start and an end."),
            field="part",
        )
    plan = plan_for(location, day)
    if not plan.is_open:
        raise InvalidInput(_l("The location is closed on that day."), field="date")
    if part == DayPart.FULL:
        span = plan.full
    else:
        span = plan.am if part == DayPart.AM else plan.pm
        if not plan.has_half_days:
            raise InvalidInput(
                _l("Half days are not offered on that day."), field="part"
            )
    assert span is not None
    return Window(span[0], span[1], day, part, day_slots(day, part, plan))


def hour_window(
    location: BookableLocation,
    resource: BookableResource,
    starts_at: datetime,
    ends_at: datetime,
) -> Window:
    if resource.is_day_bookable:
        raise InvalidInput(
            _l("Desks are booked by the day or half day: give a date."), field="date"
        )
    if ends_at <= starts_at:
        raise InvalidInput(_l("The end must be after the start."), field="end")
    if starts_at.timestamp() % ROOM_STEP_S or ends_at.timestamp() % ROOM_STEP_S:
        raise InvalidInput(
            _l("Rooms are booked in steps of 30 minutes."), field="start"
        )
    tz = ZoneInfo(location.timezone)
    day = starts_at.astimezone(tz).date()
    plan = plan_for(location, day)
    if not plan.windows:
        raise InvalidInput(_l("Closed on that day."), field="start")
    if not any(start <= starts_at and ends_at <= end for start, end in plan.windows):
        # Say when it is open, so that the next try fits (17:00 + 4 hours).
        hours = ", ".join(
            timespan(start, end, location.timezone) for start, end in plan.windows
        )
        raise InvalidInput(
            _l("That time is outside the opening hours: %(hours)s.", hours=hours),
            field="start",
        )
    return Window(
        starts_at, ends_at, day, DayPart.HOURS, room_slots(starts_at, ends_at)
    )


def check_bookable_time(
    location: BookableLocation, window: Window, now: datetime
) -> None:
    """Not in the past, not beyond the booking horizon."""
    if window.ends_at <= now:
        raise InvalidInput(_l("That time is already over."), field="date")
    check_bookable_day(location, window.booked_on, now)


def check_bookable_day(location: BookableLocation, day: date, now: datetime) -> None:
    """Not beyond the booking horizon."""
    today = now.astimezone(ZoneInfo(location.timezone)).date()
    if day > today + timedelta(days=location.horizon_days):
        raise InvalidInput(
            _l(
                "Bookings are possible at most %(days)d days ahead.",
                days=location.horizon_days,
            ),
            field="date",
        )


class Cancellable(Protocol):
    is_active: bool
    starts_at: datetime
    ends_at: datetime


def check_cancellable(
    booking: Cancellable, cutoff_hours: int, *, now: datetime, is_operator: bool
) -> None:
    """Live, not over, and (for members) not past the location's cut-off of
    ``cutoff_hours`` before the start. Raises BookingConflict or Forbidden."""
    if not booking.is_active:
        raise BookingConflict(_l("This booking is already cancelled."))
    if booking.ends_at <= now:
        raise BookingConflict(_l("This booking is over and cannot be cancelled."))
    if (
        not is_operator
        and cutoff_hours
        and now > booking.starts_at - timedelta(hours=cutoff_hours)
    ):
        raise Forbidden(
            _l(
                "Bookings can be cancelled up to %(hours)d hours before they start.",
                hours=cutoff_hours,
            )
        )
