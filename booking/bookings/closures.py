"""A closure and the bookings it covers: shown to the operator before, and
cancelled, each through ``services.cancel_booking``, when the closure is
added (``events.closure_added``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..auth.models import User
from ..spaces.models import Closure
from .models import ACTIVE_STATUSES, Booking
from .services import cancel_booking


def covered_bookings(
    db: Session,
    location_id: int,
    starts_on: date,
    ends_on: date,
    resource_id: int | None,
    *,
    now: datetime,
) -> list[Booking]:
    """The live, not yet ended bookings a closure of these days would cover."""
    query = (
        select(Booking)
        .options(joinedload(Booking.user), joinedload(Booking.resource))
        .where(
            Booking.location_id == location_id,
            Booking.booked_on >= starts_on,
            Booking.booked_on <= ends_on,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.ends_at > now,
        )
        .order_by(Booking.starts_at, Booking.resource_id)
    )
    if resource_id is not None:
        query = query.where(Booking.resource_id == resource_id)
    return list(db.scalars(query))


def cancel_closed_bookings(
    closure: Closure, *, db: Session, actor: User, now: datetime
) -> list[int]:
    """``events.closure_added``: cancel what the closure covers, in its unit
    of work (credits return, payments are refunded, mails go out as for any
    cancellation). Returns the ids of the cancelled bookings."""
    cancelled = []
    for booking in covered_bookings(
        db,
        closure.location_id,
        closure.starts_on,
        closure.ends_on,
        closure.resource_id,
        now=now,
    ):
        cancel_booking(db, actor, booking.id, now=now)
        cancelled.append(booking.id)
    return cancelled
