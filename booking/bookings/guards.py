"""What bookings refuse of lower domains' changes (receivers of the signals
sent inside their unit of work, see ``booking.events``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..spaces.models import Resource, ResourceKind
from .models import BookingSlot


def refuse_removing_booked_seats(
    resource: Resource, *, db: Session, capacity: int
) -> None:
    """``events.seats_removed``: a flex area keeps the seats that are booked.
    Raises InvalidInput."""
    if resource.kind != ResourceKind.FLEX:
        return
    used = db.scalar(
        select(
            exists().where(
                BookingSlot.resource_id == resource.id, BookingSlot.seat >= capacity
            )
        )
    )
    if used:
        raise InvalidInput(
            _l("Seats that are booked cannot be removed; cancel those bookings first."),
            field="capacity",
        )
