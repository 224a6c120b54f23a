"""Check-in, release of unchecked flex bookings, and the waitlist of full days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..auth.models import User
from ..bookings import notices
from ..bookings.models import ACTIVE_STATUSES, Booking, BookingSlot, BookingStatus
from ..bookings.queries import LocationDay, location_day
from ..db import unit_of_work, utcnow
from ..errors import BookingConflict, InvalidInput, NotFound
from ..notifications.services import notify_waitlist_free
from ..spaces.hours import local_date, parse_minutes
from ..spaces.models import DAY_KINDS, Location, Resource, ResourceKind
from ..spaces.services import get_location, get_managed_location
from .models import CheckinPolicy, WaitlistEntry

# A holder may check in this long before the booking starts.
EARLY_CHECKIN = timedelta(minutes=30)


# --- check-in --------------------------------------------------------------


def can_check_in(booking: Booking, *, now: datetime) -> bool:
    return (
        booking.is_active
        and booking.checked_in_at is None
        and booking.starts_at - EARLY_CHECKIN <= now < booking.ends_at
    )


def check_in(
    db: Session, actor: User, booking_id: int, *, now: datetime | None = None
) -> Booking:
    """The holder taps "check in". Raises NotFound, BookingConflict."""
    now = now or utcnow()
    with unit_of_work(db):
        booking = db.get(Booking, booking_id)
        if booking is None or booking.user_id != actor.id:
            raise NotFound(_l("There is no such booking."))
        if not booking.is_active:
            raise BookingConflict(_l("This booking is cancelled."))
        if booking.checked_in_at is not None:
            return booking
        if not booking.starts_at - EARLY_CHECKIN <= now < booking.ends_at:
            raise BookingConflict(
                _l("You can check in from 30 minutes before your booking starts.")
            )
        booking.checked_in_at = now
    return booking


# Plain Core on the table (no ORM attributes: the ORM's bulk-update path
# is left out); the session's object of the row, if it has one, is updated
# below. Built once: building a statement costs more than running it.
_bookings = Booking.__table__.c
_DOOR_ENTRY_CAN_CHECK_IN = (
    _bookings.user_id == bindparam("holder"),
    _bookings.location_id == bindparam("location"),
    _bookings.status.in_(ACTIVE_STATUSES),
    _bookings.starts_at <= bindparam("early"),
    _bookings.ends_at > bindparam("now"),
    _bookings.checked_in_at.is_(None),
)
_CHECK_IN_THIS = (
    update(Booking.__table__)
    .where(_bookings.id == bindparam("booking"), *_DOOR_ENTRY_CAN_CHECK_IN)
    .values(checked_in_at=bindparam("now"))
    .returning(_bookings.id)
)
_CHECK_IN_FIRST = (
    update(Booking.__table__)
    .where(
        _bookings.id
        == select(_bookings.id)
        .where(*_DOOR_ENTRY_CAN_CHECK_IN)
        .order_by(_bookings.starts_at)
        .limit(1)
        .scalar_subquery()
    )
    .values(checked_in_at=bindparam("now"))
    .returning(_bookings.id)
)


def record_door_entry(
    db: Session,
    user_id: int,
    location_id: int,
    *,
    at: datetime | None = None,
    booking_id: int | None = None,
) -> int | None:
    """For the door side: an opened door checks in the holder's current
    booking (the first one that can be checked in now); returns its id, or
    None when there is none.

    ``booking_id``: the booking the access rule opened the door for, already
    found: it is checked in if it can be, without searching again. Joins the
    caller's unit of work when there is one.
    """
    at = at or utcnow()
    params = {
        "holder": user_id,
        "location": location_id,
        "now": at,
        "early": at + EARLY_CHECKIN,
        "booking": booking_id,
    }
    with unit_of_work(db):
        checked = None
        if booking_id is not None:
            checked = db.scalar(_CHECK_IN_THIS, params)
        if checked is None:
            checked = db.scalar(_CHECK_IN_FIRST, params)
        if checked is not None:
            loaded = db.identity_map.get(identity_key(Booking, checked))
            if loaded is not None:
                set_committed_value(loaded, "checked_in_at", at)
    return checked


# --- release ---------------------------------------------------------------


def get_policy(db: Session, location_id: int) -> CheckinPolicy | None:
    return db.get(CheckinPolicy, location_id)


def set_release_time(
    db: Session, actor: User, location_id: int, release_after: str | None
) -> CheckinPolicy:
    """Set (or clear, with None/"") the local time for releasing no-shows."""
    value = (release_after or "").strip() or None
    if value is not None:
        try:
            minutes = parse_minutes(value)
        except InvalidInput:
            raise InvalidInput(
                _l("Give the time as HH:MM, e.g. 11:00."), field="release_after"
            ) from None
        value = f"{minutes // 60:02d}:{minutes % 60:02d}"
    with unit_of_work(db):
        get_managed_location(db, actor, location_id)
        policy = db.get(CheckinPolicy, location_id)
        if policy is None:
            policy = CheckinPolicy(location_id=location_id)
            db.add(policy)
        policy.release_after = value
    return policy


def release_unchecked(db: Session, *, now: datetime | None = None) -> list[int]:
    """Cancel today's flex bookings nobody checked in for after each location's
    release time, free their seats and tell the waitlist. Safe to repeat.
    Returns the released booking ids.
    """
    now = now or utcnow()
    released: list[int] = []
    policies = list(
        db.execute(
            select(CheckinPolicy, Location)
            .join(Location, Location.id == CheckinPolicy.location_id)
            .where(CheckinPolicy.release_after.is_not(None), Location.is_active)
        )
    )
    for policy, location in policies:
        tz = ZoneInfo(location.timezone)
        local_now = now.astimezone(tz)
        minute = parse_minutes(policy.release_after)
        if local_now.hour * 60 + local_now.minute < minute:
            continue
        with unit_of_work(db):
            bookings = list(
                db.scalars(
                    select(Booking)
                    .join(Resource, Resource.id == Booking.resource_id)
                    .where(
                        Booking.location_id == location.id,
                        Booking.booked_on == local_now.date(),
                        Booking.status == BookingStatus.CONFIRMED,
                        Booking.checked_in_at.is_(None),
                        Booking.starts_at <= now,
                        Booking.ends_at > now,
                        Resource.kind == ResourceKind.FLEX,
                    )
                )
            )
            for booking in bookings:
                # The same state change as bookings.services.cancel_booking,
                # done by the system rather than a person.
                db.execute(
                    delete(BookingSlot).where(BookingSlot.booking_id == booking.id)
                )
                booking.status = BookingStatus.CANCELLED
                booking.cancelled_at = now
                booking.cancelled_by_id = None
                booking.sequence += 1
                notices.announce(db, booking, notices.BookingNotice.CANCELLED)
                released.append(booking.id)
    return released


# --- waitlist --------------------------------------------------------------


def day_is_full(availability: LocationDay) -> bool:
    """No desk left on a day that is still bookable (open and not over)."""
    desks = [
        entry
        for entry in availability.resources
        if entry.resource.kind in DAY_KINDS and not entry.closed
    ]
    if not any(entry.parts for entry in desks):
        return False  # no desks, closed, or the day is over
    return all(not any(n > 0 for n in entry.parts.values()) for entry in desks)


def is_day_full(db: Session, location: Location, day: date, now: datetime) -> bool:
    return day_is_full(location_day(db, location, day, now=now))


def waitlist_offer(
    db: Session, user: User | None, availability: LocationDay
) -> str | None:
    """What the location page offers for the day: "leave" (the person waits),
    "join" (the day is full and they hold no desk there) or None."""
    location_id, day = availability.location.id, availability.day
    if user is not None and getattr(user, "is_authenticated", False):
        waiting = db.scalar(
            select(WaitlistEntry.id).where(
                WaitlistEntry.user_id == user.id,
                WaitlistEntry.location_id == location_id,
                WaitlistEntry.day == day,
            )
        )
        holds_desk = db.scalar(
            select(Booking.id)
            .join(Resource, Resource.id == Booking.resource_id)
            .where(
                Booking.user_id == user.id,
                Booking.location_id == location_id,
                Booking.booked_on == day,
                Booking.status.in_(ACTIVE_STATUSES),
                Resource.kind.in_(list(DAY_KINDS)),
            )
            .limit(1)
        )
        if holds_desk is not None:
            return None
        if waiting is not None:
            return "leave"
    return "join" if day_is_full(availability) else None


def join_waitlist(
    db: Session,
    user: User,
    location_id: int,
    day: date,
    *,
    now: datetime | None = None,
) -> WaitlistEntry:
    """Wait for a desk on a full day. Raises InvalidInput when desks are free."""
    now = now or utcnow()
    location = get_location(db, location_id)
    if day < local_date(now, location.timezone):
        raise InvalidInput(_l("That day is over."), field="date")
    if not is_day_full(db, location, day, now):
        raise InvalidInput(_l("There are free desks that day: book one."), field="date")
    with unit_of_work(db):
        entry = db.scalar(
            select(WaitlistEntry).where(
                WaitlistEntry.user_id == user.id,
                WaitlistEntry.location_id == location.id,
                WaitlistEntry.day == day,
            )
        )
        if entry is None:
            entry = WaitlistEntry(user_id=user.id, location_id=location.id, day=day)
            db.add(entry)
        entry.notified_at = None
    return entry


def leave_waitlist(db: Session, user: User, location_id: int, day: date) -> None:
    with unit_of_work(db):
        db.execute(
            delete(WaitlistEntry).where(
                WaitlistEntry.user_id == user.id,
                WaitlistEntry.location_id == location_id,
                WaitlistEntry.day == day,
            )
        )


def waitlists_of(db: Session, user: User, *, today: date) -> list[WaitlistEntry]:
    return list(
        db.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.user_id == user.id, WaitlistEntry.day >= today)
            .order_by(WaitlistEntry.day)
        )
    )


def on_desk_freed(booking: Booking, *, db: Session) -> None:
    """``events.desk_freed``: a desk-day booking's cancellation went out."""
    desk_freed(db, booking.location_id, booking.booked_on)


def desk_freed(db: Session, location_id: int, day: date) -> int:
    """Tell everyone waiting for that day who has no desk there yet.

    Runs after the commit that freed the desk. Returns the mails sent.
    """
    entries = list(
        db.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.location_id == location_id,
                WaitlistEntry.day == day,
                WaitlistEntry.notified_at.is_(None),
            )
        )
    )
    if not entries:
        return 0
    location = db.get(Location, location_id)
    holders = set(
        db.scalars(
            select(Booking.user_id)
            .join(Resource, Resource.id == Booking.resource_id)
            .where(
                Booking.location_id == location_id,
                Booking.booked_on == day,
                Booking.status.in_(ACTIVE_STATUSES),
                Resource.kind.in_(list(DAY_KINDS)),
            )
        )
    )
    sent = 0
    with unit_of_work(db):
        for entry in entries:
            if entry.user_id in holders:
                continue
            entry.notified_at = utcnow()
    for entry in entries:
        if entry.user_id in holders:
            continue
        user = db.get(User, entry.user_id)
        if notify_waitlist_free(db, user, location, day):
            sent += 1
    return sent
