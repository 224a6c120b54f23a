"""Read models: availability of a location day, a day's bookings, free desks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session, joinedload

from .. import events
from ..auth.models import User
from ..calendars.services import blocks_between
from ..db import utcnow
from ..spaces.hours import DayPlan, local_date
from ..spaces.models import DAY_KINDS, Closure, Location, Resource
from . import rules
from .models import ACTIVE_STATUSES, Booking, BookingSlot, BookingStatus, DayPart
from .rules import MAX_BOOKING_LENGTH, day_slots, plan_for

Interval = tuple[datetime, datetime]


@dataclass
class ResourceDay:
    resource: Resource
    closed: bool
    seats: int
    booked: list[dict] = field(default_factory=list)  # {start, end, seats, part}
    free: list[Interval] = field(default_factory=list)
    # Desks and flex areas: free seats per bookable part of the day.
    parts: dict[str, int] = field(default_factory=dict)
    # Rooms: the half-hour steps still free, as (start, end).
    free_steps: list[Interval] = field(default_factory=list)
    # A member's fixed desk (passes.fixed_desks): taken all day, by whom.
    fixed_for: int | None = None

    @property
    def is_free_all_day(self) -> bool:
        return not self.closed and self.parts.get("full", 0) > 0


@dataclass
class LocationDay:
    location: Location
    day: date
    plan: DayPlan
    closed_reason: str | None
    resources: list[ResourceDay]


def _subtract(windows: list[Interval], taken: list[Interval]) -> list[Interval]:
    free = []
    for start, end in windows:
        cursor = start
        for t_start, t_end in sorted(taken):
            if t_end <= cursor or t_start >= end:
                continue
            if t_start > cursor:
                free.append((cursor, t_start))
            cursor = max(cursor, t_end)
        if cursor < end:
            free.append((cursor, end))
    return free


def _steps(windows: list[Interval], step_s: int = 1800) -> list[Interval]:
    from datetime import timedelta

    steps = []
    step = timedelta(seconds=step_s)
    for start, end in windows:
        cursor = start
        while cursor + step <= end:
            steps.append((cursor, cursor + step))
            cursor += step
    return steps


def location_day(
    db: Session, location: Location, day: date, *, now: datetime | None = None
) -> LocationDay:
    """Every active resource of a location with its free and booked periods."""
    now = now or utcnow()
    plan = plan_for(location, day)
    resources = [r for r in location.resources if r.is_active]
    closures = list(
        db.scalars(select(Closure).where(rules.closures_on(location.id, day)))
    )
    location_closure = next((c for c in closures if c.resource_id is None), None)
    closed_resources = {c.resource_id for c in closures if c.resource_id is not None}
    bookings_by_resource: dict[int, list] = defaultdict(list)
    if plan.is_open and location_closure is None:
        day_start, day_end = plan.windows[0][0], plan.windows[-1][1]
        rows = db.execute(
            select(
                Booking.resource_id,
                Booking.seat,
                Booking.starts_at,
                Booking.ends_at,
                Booking.part,
            ).where(
                Booking.location_id == location.id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.starts_at >= day_start - MAX_BOOKING_LENGTH,
                rules.overlaps(Booking.starts_at, Booking.ends_at, day_start, day_end),
            )
        )
        for row in rows:
            bookings_by_resource[row.resource_id].append(row)
        # Rooms held by an imported calendar (booking.calendars) are taken too.
        for block in blocks_between(db, location.id, day_start, day_end):
            bookings_by_resource[block.resource_id].append(block)

    fixed = fixed_holders(db, resources)
    result = []
    for resource in resources:
        closed = (
            not plan.is_open
            or location_closure is not None
            or resource.id in closed_resources
        )
        entry = ResourceDay(resource=resource, closed=closed, seats=resource.seat_count)
        if closed:
            result.append(entry)
            continue
        rows = bookings_by_resource.get(resource.id, [])
        entry.booked = _booked_periods(rows)
        if resource.id in fixed:
            entry.fixed_for = fixed[resource.id]
            entry.parts = {
                part: 0 for part in _free_parts(resource, [], plan, day, now)
            }
            if plan.full is not None:
                entry.booked = [
                    {"start": plan.full[0], "end": plan.full[1], "seats": 1}
                ]
        elif resource.kind in DAY_KINDS:
            entry.parts = _free_parts(resource, rows, plan, day, now)
            entry.free = _free_day_periods(entry.parts, plan)
        else:
            taken = [(row.starts_at, row.ends_at) for row in rows]
            entry.free = _subtract(list(plan.windows), taken)
            entry.free_steps = [s for s in _steps(entry.free) if s[1] > now]
        result.append(entry)
    reason = None
    if location_closure is not None:
        reason = location_closure.reason or "closed"
    return LocationDay(location, day, plan, reason, result)


def _booked_periods(rows) -> list[dict]:
    grouped: dict[Interval, int] = defaultdict(int)
    for row in rows:
        grouped[(row.starts_at, row.ends_at)] += 1
    return [
        {"start": start, "end": end, "seats": seats}
        for (start, end), seats in sorted(grouped.items())
    ]


def _free_parts(
    resource: Resource, rows, plan: DayPlan, day: date, now: datetime
) -> dict:
    seats = resource.seat_count
    am_slot, pm_slot = day.toordinal() * 2, day.toordinal() * 2 + 1
    taken = {am_slot: set(), pm_slot: set()}
    for row in rows:
        for slot in day_slots(day, DayPart(row.part), plan):
            taken.setdefault(slot, set()).add(row.seat)
    parts: dict[str, int] = {}
    if plan.has_half_days:
        am_free = seats - len(taken[am_slot])
        pm_free = seats - len(taken[pm_slot])
        both_free = seats - len(taken[am_slot] | taken[pm_slot])
        if plan.am[1] > now:
            parts["am"] = am_free
        if plan.pm[1] > now:
            parts["pm"] = pm_free
        if plan.full[1] > now:
            parts["full"] = both_free
    elif plan.full is not None and plan.full[1] > now:
        parts["full"] = seats - len(taken[pm_slot])
    return parts


def _free_day_periods(parts: dict, plan: DayPlan) -> list[Interval]:
    if parts.get("full", 0) > 0:
        return [plan.full]
    return [getattr(plan, p) for p in ("am", "pm") if parts.get(p, 0) > 0]


def free_desks_today(
    db: Session, locations: list[Location], *, now: datetime | None = None
) -> dict[int, int | None]:
    """Desk and flex seats with nothing booked for the rest of today.

    None for a location that is closed today. Three queries for the whole
    network, whatever its size (four when some desk is a fixed desk).
    """
    now = now or utcnow()
    if not locations:
        return {}
    assigned = db.execute(
        select(Resource.id, Resource.fixed_pass_id).where(
            Resource.location_id.in_([location.id for location in locations]),
            Resource.fixed_pass_id.is_not(None),
        )
    ).all()
    fixed = list(fixed_holders(db, assigned))
    seats = dict(
        db.execute(
            select(
                Resource.location_id,
                # a flex area counts its seats, a desk one
                func.sum(case((Resource.kind == "flex", Resource.capacity), else_=1)),
            )
            # A member's fixed desk is never free for others.
            .where(
                Resource.is_active,
                Resource.kind.in_(list(DAY_KINDS)),
                Resource.id.not_in(fixed),
            )
            .group_by(Resource.location_id)
        ).all()
    )
    closed_today = set()
    wanted_slots: dict[int, list[int]] = {}
    for location in locations:
        today = local_date(now, location.timezone)
        plan = plan_for(location, today)
        if not plan.is_open or plan.full[1] <= now:
            closed_today.add(location.id)
            continue
        base = today.toordinal() * 2
        if plan.has_half_days and plan.am[1] <= now:
            wanted_slots[location.id] = [base + 1]
        else:
            wanted_slots[location.id] = list(day_slots(today, DayPart.FULL, plan))
        if location_closed_on(db, location.id, today):
            closed_today.add(location.id)
    all_slots = sorted({s for slots in wanted_slots.values() for s in slots})
    taken: dict[int, set] = defaultdict(set)
    if all_slots:
        rows = db.execute(
            select(
                Resource.location_id,
                BookingSlot.resource_id,
                BookingSlot.seat,
                BookingSlot.slot,
            )
            .join(Resource, Resource.id == BookingSlot.resource_id)
            .where(
                BookingSlot.slot.in_(all_slots),
                Resource.kind.in_(list(DAY_KINDS)),
                Resource.is_active,
                Resource.id.not_in(fixed),
            )
        )
        for location_id, resource_id, seat, slot in rows:
            if slot in wanted_slots.get(location_id, ()):
                taken[location_id].add((resource_id, seat))
    result: dict[int, int | None] = {}
    for location in locations:
        if location.id in closed_today:
            result[location.id] = None
        else:
            result[location.id] = max(
                0, int(seats.get(location.id) or 0) - len(taken[location.id])
            )
    return result


def fixed_holders(db: Session, resources) -> dict[int, int]:
    """Resource id to holder for the resources that are a member's fixed desk
    now (passes answers, events.fixed_desks_asked). No question is asked when
    none of them is assigned."""
    resources = [r for r in resources if r.fixed_pass_id]
    if not resources:
        return {}
    holders: dict[int, int] = {}
    for answer in events.ask(events.fixed_desks_asked, db=db, resources=resources):
        holders.update(answer)
    return holders


def location_closed_on(db: Session, location_id: int, day: date) -> bool:
    return bool(db.scalar(select(exists().where(rules.closes(location_id, day)))))


def day_bookings(db: Session, location: Location, day: date) -> list[Booking]:
    """All bookings (live and cancelled) of a location's local day, for operators."""
    return list(
        db.scalars(
            select(Booking)
            .options(joinedload(Booking.user), joinedload(Booking.resource))
            .where(Booking.location_id == location.id, Booking.booked_on == day)
            .order_by(Booking.starts_at, Booking.resource_id)
        )
    )


def people_who_booked(
    db: Session, location_ids: list[int] | None, *, limit: int = 300
) -> list:
    """The active people who booked (for themselves) at these locations (None:
    all), by name, each with how many live bookings they hold there and their
    last day: the operator's list of members, and the suggestions of the day
    view's "book for someone"."""
    query = (
        select(
            User,
            func.count(Booking.id).label("bookings"),
            func.max(Booking.booked_on).label("last_day"),
        )
        .join(Booking, Booking.user_id == User.id)
        .where(
            User.is_active,
            Booking.guest_email.is_(None),
            Booking.status.in_(ACTIVE_STATUSES),
        )
        .group_by(User.id)
        .order_by(User.name, User.email)
        .limit(limit)
    )
    if location_ids is not None:
        query = query.where(Booking.location_id.in_(location_ids))
    return list(db.execute(query))


def regulars(db: Session, location: Location) -> list[User]:
    """The people to suggest when booking for someone at a location."""
    return [row.User for row in people_who_booked(db, [location.id])]


def bookings_made_by(db: Session, actor: User, booking_ids: list[int]) -> list[Booking]:
    """Those of the bookings that ``actor`` made (for themselves, a member or
    a guest), by day."""
    if not booking_ids:
        return []
    return list(
        db.scalars(
            select(Booking)
            .where(Booking.id.in_(booking_ids), Booking.created_by_id == actor.id)
            .order_by(Booking.starts_at)
        )
    )


def closures_that_cancelled(
    db: Session, bookings: list[Booking]
) -> dict[int, Closure]:
    """For each cancelled booking that a closure cancelled, that closure (of
    the location, or of its desk or room: rules.closes), by booking id: one
    query.

    A closure cancels the live bookings its days cover when it is made
    (spaces.services.add_closure), so such a booking was cancelled at or
    after the closure's creation; of several, the latest made before.
    """
    ids = [
        b.id
        for b in bookings
        if b.status == BookingStatus.CANCELLED and b.cancelled_at is not None
    ]
    if not ids:
        return {}
    rows = db.execute(
        select(Booking.id, Closure)
        .join(
            Closure,
            rules.closes(Booking.location_id, Booking.booked_on, Booking.resource_id)
            & (Closure.created_at <= Booking.cancelled_at),
        )
        .where(Booking.id.in_(ids))
        .order_by(Closure.created_at.desc(), Closure.id.desc())
    )
    found: dict[int, Closure] = {}
    for booking_id, closure in rows:
        found.setdefault(booking_id, closure)
    return found


def own_bookings_on(
    db: Session, user: User, location_id: int, day: date
) -> dict[int, list[Booking]]:
    """A person's live bookings (not their guests') at a location on a day,
    by resource: the location page marks them as theirs."""
    rows = db.scalars(
        select(Booking)
        .where(
            Booking.user_id == user.id,
            Booking.location_id == location_id,
            Booking.booked_on == day,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.guest_email.is_(None),
        )
        .order_by(Booking.starts_at)
    )
    mine: dict[int, list[Booking]] = defaultdict(list)
    for booking in rows:
        mine[booking.resource_id].append(booking)
    return dict(mine)
