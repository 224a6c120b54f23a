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
from .services import hold_for_payment, settle_cancelled_booking


def settle_booking(
    booking: Booking,
    *,
    db: Session,
    resource: BookableResource,
    location: BookableLocation,
    holder: User,
    now: datetime,
    payment_method: str | None = None,
) -> None:
    """``events.booking_placed``: free, from a credit, or paid: an order, to
    be paid as asked (Stripe, invoice, on site; none asked: chosen on the
    order page), see ``services.methods``. Raises MembershipSuspended for a
    member whose grace has run out, InvalidInput for a way to pay the
    location does not offer, NoWayToPay."""
    owed = passes.settle_booking(
        db, booking, resource=resource, location=location, holder=holder, now=now
    )
    if owed:
        hold_for_payment(
            db,
            booking,
            amount_cents=owed,
            resource=resource,
            now=now,
            payment_method=payment_method,
        )


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
