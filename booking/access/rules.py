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
- the holder of a paid day pass valid at the door's location: the same
  window around that day's opening hours (a half-day pass: its half);
- a member with a fixed desk at the door's location: the same window around
  every open day's opening hours, no booking needed;
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
DAY_PASS = "day_pass"
FIXED_DESK = "fixed_desk"
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
    # Paid day passes at the door's location: their opening-hours windows
    # (LiveBooking.id is the pass id).
    day_passes: tuple[LiveBooking, ...] = ()
    # The opening hours of today and tomorrow for a member whose fixed desk
    # is at the door's location (LiveBooking.id is the pass id).
    fixed_desk: tuple[LiveBooking, ...] = ()


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
    windows = [(b, BOOKING) for b in facts.bookings]
    windows += [(p, DAY_PASS) for p in facts.day_passes]
    windows += [(p, FIXED_DESK) for p in facts.fixed_desk]
    upcoming = None
    for window, reason in sorted(windows, key=lambda w: w[0].starts_at):
        if window.starts_at - margin <= now < window.ends_at:
            booking_id = window.id if reason == BOOKING else None
            return Decision(True, reason, booking_id=booking_id)
        if now < window.starts_at - margin and upcoming is None:
            upcoming = (window, reason)
    if upcoming is not None:
        window, reason = upcoming
        return Decision(
            False,
            TOO_EARLY,
            booking_id=window.id if reason == BOOKING else None,
            opens_at=window.starts_at - margin,
        )
    return Decision(False, NO_BOOKING)


def access_window(
    starts_at: datetime, ends_at: datetime, margin: timedelta = DEFAULT_MARGIN
) -> tuple[datetime, datetime]:
    """When a booking opens its doors: [start - margin, end)."""
    return starts_at - margin, ends_at
