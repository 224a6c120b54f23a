"""How a booking is paid for: a credit of the holder's passes, else money.

The receivers of the booking events sent inside the unit of work
(``booking.events``): bookings knows nothing of passes or billing, and passes
nothing of billing; billing, at the top of the stack, asks passes first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..auth.models import User
from ..bookings.models import Booking
from ..bookings.rules import BookableLocation, BookableResource
from ..passes import services as passes
from .services import (
    hold_for_payment,
    release_expired_holds,
    settle_cancelled_booking,
)


def settle_booking(
    booking: Booking,
    *,
    db: Session,
    resource: BookableResource,
    location: BookableLocation,
    holder: User,
    now: datetime,
) -> None:
    """``events.booking_placed``: free, from a credit, or held for payment
    (pending_payment with an order; the page sends the person to Stripe).
    Raises MembershipSuspended for a member whose grace has run out."""
    owed = passes.settle_booking(
        db, booking, resource=resource, location=location, holder=holder, now=now
    )
    if owed:
        hold_for_payment(db, booking, amount_cents=owed, resource=resource, now=now)


def release_booking(
    booking: Booking, *, db: Session, actor: User, now: datetime
) -> None:
    """``events.booking_released``: return the credit, refund the payment or
    close the unpaid order. Free bookings (``settled_by`` empty) cost no
    query."""
    if booking.settled_by == "credit":
        passes.release_booking(db, booking, actor=actor, now=now)
    elif booking.settled_by == "payment":
        settle_cancelled_booking(db, booking, now=now)


def on_expired_holds_asked(
    _sender, *, db: Session, resource_id: int, user_id: int, now: datetime
) -> int:
    """Answer ``events.expired_holds_asked``: a booking found its desk or
    person taken, so release the holds on it that ran out."""
    return release_expired_holds(db, now, resource_id=resource_id, user_id=user_id)
