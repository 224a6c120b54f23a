"""The access rule: who may open a door, and when. The only place it lives.

Pure function over facts the service gathers (access.services.access_facts):

- an operator of the door's location, or an admin: always;
- a suspended member (payment overdue beyond the grace period): never, not
  even with a booking. During the grace period after a failed renewal the
  member keeps access, as billing keeps their bookings (issue 3: "a grace
  period follows, then new bookings and door access stop until paid");
- a member whose membership grants 24/7 access at this location: any time;
- the holder of a confirmed booking served by the door: from
  ``margin`` before the booking starts until it ends (half-open);
- nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_MARGIN = timedelta(minutes=30)

# Reason codes; access.services turns them into messages for people.
OPERATOR = "operator"
MEMBERSHIP = "membership_24_7"
BOOKING = "booking"
DOOR_INACTIVE = "door_inactive"
SUSPENDED = "membership_suspended"
TOO_EARLY = "too_early"
NO_BOOKING = "no_booking"


@dataclass(frozen=True)
class LiveBooking:
    id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class AccessFacts:
    door_active: bool
    is_operator: bool  # runs the door's location, or an admin
    standing: str  # passes.models.Standing value
    has_24_7: bool
    bookings: tuple[LiveBooking, ...]  # confirmed, served by the door, not over


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    booking_id: int | None = None
    opens_at: datetime | None = None  # for TOO_EARLY


def decide(
    facts: AccessFacts, now: datetime, margin: timedelta = DEFAULT_MARGIN
) -> Decision:
    """May this person open this door at ``now``?"""
    if not facts.door_active:
        return Decision(False, DOOR_INACTIVE)
    if facts.is_operator:
        return Decision(True, OPERATOR)
    if facts.standing == "suspended":
        return Decision(False, SUSPENDED)
    if facts.has_24_7:
        return Decision(True, MEMBERSHIP)
    upcoming = None
    for booking in sorted(facts.bookings, key=lambda b: b.starts_at):
        if booking.starts_at - margin <= now < booking.ends_at:
            return Decision(True, BOOKING, booking_id=booking.id)
        if now < booking.starts_at - margin and upcoming is None:
            upcoming = booking
    if upcoming is not None:
        return Decision(
            False,
            TOO_EARLY,
            booking_id=upcoming.id,
            opens_at=upcoming.starts_at - margin,
        )
    return Decision(False, NO_BOOKING)


def access_window(
    starts_at: datetime, ends_at: datetime, margin: timedelta = DEFAULT_MARGIN
) -> tuple[datetime, datetime]:
    """When a booking opens its doors: [start - margin, end)."""
    return starts_at - margin, ends_at
