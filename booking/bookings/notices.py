"""What a booking's holder is told of a change, and who else hears of it.

A change that owes the holder a mail marks ``Booking.mail_due`` in its own
unit of work, so the mail cannot be lost between the commit and the send; the
booking-mail delivery (notifications) finds the marker and sends it. After the
commit the domain event goes out (``booking.events``), which among others
wakes that delivery.
"""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session

from .. import events
from .models import Booking


class BookingNotice(enum.StrEnum):
    """The values of ``Booking.mail_due`` (notifications' mail kinds)."""

    CONFIRMED = "booking_confirmed"
    CANCELLED = "booking_cancelled"


_EVENTS = {
    BookingNotice.CONFIRMED: events.booking_confirmed,
    BookingNotice.CANCELLED: events.booking_cancelled,
}


def announce(db: Session, booking: Booking, notice: BookingNotice) -> None:
    """Inside the unit of work that changed ``booking``: mark its mail due and
    send the matching event once the unit has committed."""
    booking.mail_due = notice
    events.send_after_commit(db, _EVENTS[notice], booking)
