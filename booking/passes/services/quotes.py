"""What a booking would cost this person, before they book (issue 17 point 2).

The same rule that settles a booking (credits.settle_booking): the price from
the resource row (prices.booking_price_cents), then the person's passes in
the order they pay (credits.passes_of, credits.covers_day /
covers_room_minutes). Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking, DayPart
from ...db import utcnow
from ..models import Standing
from .credits import covers_day, covers_room_minutes, passes_of, remaining
from .prices import booking_price_cents


@dataclass(frozen=True)
class Quote:
    """``how``: "free" (no price), "pass" (a credit of ``pass_name`` pays:
    ``unlimited`` or ``left`` credits before this one) or "price" (``cents``
    gross, incl. VAT, to pay)."""

    how: str
    cents: int = 0
    pass_name: str | None = None
    pass_kind: str | None = None
    left: int | None = None
    unlimited: bool = False


def _probe(on: date, part: str, starts_at=None, ends_at=None) -> Booking:
    """A booking as it would be, for the rules to look at (never added)."""
    return Booking(booked_on=on, part=part, starts_at=starts_at, ends_at=ends_at)


class Quoter:
    """Quotes for one person at one location: their passes are read once."""

    def __init__(
        self,
        db: Session,
        user: User | None,
        location_id: int,
        *,
        now: datetime | None = None,
    ):
        self.db, self.now = db, now or utcnow()
        self.passes = (
            passes_of(db, user, location_id)
            if user is not None and user.is_authenticated
            else []
        )
        self._covered: dict[tuple, Quote | None] = {}

    def quote(
        self,
        resource,
        on: date,
        part: str = DayPart.FULL,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> Quote:
        booking = _probe(on, part, starts_at, ends_at)
        cents = booking_price_cents(resource, booking)
        if cents == 0:
            return Quote("free")
        standings = {p.standing(self.now) for p in self.passes}
        if Standing.SUSPENDED in standings and Standing.ACTIVE not in standings:
            # Settling refuses a suspended member; the page says so elsewhere.
            return Quote("price", cents)
        key = (resource.is_day_bookable, on, part, starts_at, ends_at)
        if key not in self._covered:
            self._covered[key] = self._by_pass(resource.is_day_bookable, booking)
        return self._covered[key] or Quote("price", cents)

    def hour(self, resource, on: date, starts_at: datetime) -> Quote:
        """An hour of a room from ``starts_at`` (the pages' "per hour")."""
        return self.quote(
            resource, on, DayPart.HOURS, starts_at, starts_at + timedelta(hours=1)
        )

    def _by_pass(self, day_bookable: bool, booking: Booking) -> Quote | None:
        covers = covers_day if day_bookable else covers_room_minutes
        for candidate in self.passes:
            if covers(self.db, candidate, booking, now=self.now):
                left = remaining(self.db, candidate, booking.booked_on)
                return Quote(
                    "pass",
                    pass_name=candidate.plan.name,
                    pass_kind=str(candidate.kind),
                    left=left if day_bookable else None,
                    unlimited=day_bookable and left is None,
                )
        return None
