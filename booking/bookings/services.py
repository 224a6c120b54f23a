"""Creating and cancelling bookings: the one place their rules are enforced.

The SQL is in ``statements``, what is asked for in ``requests``, several
days at once in ``series``.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events
from ..auth.models import User
from ..calendars.services import check_not_blocked
from ..db import persistent, unit_of_work, utcnow
from ..errors import BookingConflict, DomainError, Forbidden, InvalidInput, NotFound
from ..spaces.models import Resource, ResourceKind
from ..spaces.services import can_manage
from ..validation import parse_id
from . import notices, rules
from .models import Booking, BookingSlot, BookingStatus
from .queries import fixed_holders
from .requests import BookingRequest, Guest
from .statements import (
    BOOKING_COLUMNS,
    GUEST_OCCUPANCY,
    INSERT_BOOKING,
    INSERT_BOOKING_AND_SLOTS,
    INSERT_IF_FREE,
    INSERT_SLOTS,
    LOAD_RESOURCE,
    LOCK_HOLDER,
    OCCUPANCY,
    RESOURCE_FIELDS,
    LockedLocation,
    LockedResource,
)

__all__ = ["BookingRequest", "Guest", "create_booking", "cancel_booking"]


def _load_resource_for_update(
    db: Session, resource_id: int
) -> tuple[LockedResource, LockedLocation]:
    row = db.connection().execute(LOAD_RESOURCE, {"resource_id": resource_id}).first()
    if row is None:
        raise NotFound(_l("There is no such desk or room."))
    split = len(RESOURCE_FIELDS)
    resource, location = LockedResource(*row[:split]), LockedLocation(*row[split:])
    if not resource.is_active:
        raise NotFound(_l("There is no such desk or room."))
    if not location.is_active:
        raise InvalidInput(_l("This location takes no bookings at the moment."))
    return resource, location


def _check_not_fixed_for_others(
    db: Session, resource: LockedResource, holder: User
) -> None:
    """A member's fixed desk is theirs alone (passes.fixed_desks); a desk
    without one costs no query."""
    if resource.fixed_pass_id is None:
        return
    owner = fixed_holders(db, [resource]).get(resource.id)
    if owner is not None and owner != holder.id:
        raise BookingConflict(_l("This desk is a member's fixed desk."))


def _holder(
    db: Session,
    actor: User,
    holder_id: int | None,
    location: LockedLocation,
    resource: LockedResource,
) -> User:
    postgres = db.get_bind().dialect.name == "postgresql"
    if holder_id is None or holder_id == actor.id:
        if postgres and resource.kind not in rules.WORKPLACE_KINDS:
            db.connection().execute(LOCK_HOLDER, {"user_id": actor.id})
        return actor
    if not can_manage(db, actor, location.id):
        raise Forbidden(_l("Only the location's operators can book for others."))
    query = select(User).where(User.id == holder_id)
    if postgres:
        query = query.with_for_update(key_share=True)  # as LOCK_HOLDER
    holder = db.scalar(query)
    if holder is None or not holder.is_active:
        raise InvalidInput(_l("There is no such member."), field="member")
    return holder


def _occupancy_params(
    location: LockedLocation,
    resource: LockedResource,
    holder_id: int,
    window: rules.Window,
) -> dict:
    return {
        "location_id": location.id,
        "resource_id": resource.id,
        "day": window.booked_on,
        "user_id": holder_id,
        "earliest": window.starts_at - rules.MAX_BOOKING_LENGTH,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "workplace": resource.kind in rules.WORKPLACE_KINDS,
        "first_slot": window.slots[0],
        "last_slot": window.slots[-1],
    }


def _occupancy(db: Session, params: dict) -> tuple[bool, int | None, set[int]]:
    """Closed?, the holder's (or guest's) clashing booking, the seats taken:
    one query."""
    closed, clash, taken = False, None, set()
    statement = GUEST_OCCUPANCY if params.get("guest_email") else OCCUPANCY
    for kind, value in db.connection().execute(statement, params):
        if kind == "closed":
            closed = True
        elif kind == "clash":
            clash = value
        else:
            taken.add(value)
    return closed, clash, taken


def _raise_if_clash(
    clash: int | None, kind: ResourceKind, guest: bool, other: User | None
) -> None:
    if clash is not None:
        raise BookingConflict(
            _person_clash_message(kind, guest, other), booking_id=clash
        )


def _person_clash_message(
    kind: ResourceKind, guest: bool = False, other: User | None = None
):
    """Why the person may not have this too; ``other``: the member an
    operator books for, named (not "you", which would be the operator)."""
    if guest:
        return _l("Your guest already has a booking at that time.")
    if other is not None:
        name = other.name or other.email
        if kind in rules.WORKPLACE_KINDS:
            return _l("%(name)s already has a desk booked at that time.", name=name)
        return _l("%(name)s already has a room booked at that time.", name=name)
    if kind in rules.WORKPLACE_KINDS:
        return _l("You already have a desk booked at that time.")
    return _l("You already have a room booked at that time.")


def _pick_seat(resource: LockedResource, taken: set[int]) -> int:
    for seat in range(resource.seat_count):
        if seat not in taken:
            return seat
    if resource.kind == ResourceKind.FLEX:
        raise BookingConflict(_l("All seats of this area are booked at that time."))
    raise BookingConflict(_l("This is already booked for that time."))


def _insert_booking(db: Session, params: dict, slots: tuple[int, ...]) -> Booking:
    """Insert the booking and its slots with Core (no ORM flush)."""
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        booking_id, seat = conn.execute(INSERT_BOOKING_AND_SLOTS, params).one()
        return _booking(db, params, booking_id, seat)
    booking_id = conn.execute(INSERT_BOOKING, params).scalar_one()
    conn.execute(
        INSERT_SLOTS,
        [
            {
                "resource_id": params["resource_id"],
                "seat": params["seat"],
                "slot": slot,
                "booking_id": booking_id,
                "user_id": params["slot_holder"],
            }
            for slot in slots
        ],
    )
    return _booking(db, params, booking_id, params["seat"])


def _booking(db: Session, params: dict, booking_id: int, seat: int) -> Booking:
    """The session's object of the booking just inserted, without reading
    it back."""
    values = {key: params[key] for key in BOOKING_COLUMNS}
    return persistent(db, Booking(**values | {"id": booking_id, "seat": seat}))


def _booking_window(
    location: LockedLocation,
    resource: LockedResource,
    request: BookingRequest,
    now: datetime,
) -> rules.Window:
    """The window asked for, checked against opening hours, horizon and now."""
    try:
        if request.on is not None:
            window = rules.day_window(location, resource, request.on, request.part)
        else:
            window = rules.hour_window(
                location, resource, request.starts_at, request.ends_at
            )
    except OverflowError:
        # Dates at the ends of the calendar (0001-01-01, 9999-12-31): their
        # local times do not exist in Python, and they are bookable neither.
        asked = request.on or request.starts_at.date()
        rules.check_bookable_day(location, asked, now)
        raise InvalidInput(_l("That time is already over."), field="date") from None
    rules.check_bookable_time(location, window, now)
    return window


def _new_booking_params(
    holder: User,
    actor: User,
    resource: LockedResource,
    window: rules.Window,
    *,
    seat: int,
    now: datetime,
    guest: Guest | None = None,
) -> dict:
    """Every column of a new confirmed booking but its id, and its slots'
    holder: set for workplaces, so that the database refuses a person two
    desks at once (bookings.models.BookingSlot). A guest's seat is the
    guest's, not the member's: its slots have no holder, and the guest's
    own clash check (statements.GUEST_OCCUPANCY) keeps a guest to one
    workplace at a time."""
    workplace = resource.kind in rules.WORKPLACE_KINDS
    return {
        "user_id": holder.id,
        "resource_id": resource.id,
        "location_id": resource.location_id,
        "seat": seat,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "booked_on": window.booked_on,
        "part": str(window.part),
        "status": str(BookingStatus.CONFIRMED),
        "created_at": now,
        "created_by_id": actor.id,
        "cancelled_at": None,
        "cancelled_by_id": None,
        "sequence": 0,
        "hold_expires_at": None,
        "settled_by": None,
        "checked_in_at": None,
        # The confirmation mail goes out after the commit (notifications).
        "mail_due": str(notices.BookingNotice.CONFIRMED),
        "guest_name": guest.name if guest else None,
        "guest_email": guest.email if guest else None,
        "slot_holder": holder.id if workplace and guest is None else None,
        "first_slot": window.slots[0],
        "last_slot": window.slots[-1],
    }


@events.announces_refusal(events.booking_refused)
def create_booking(
    db: Session, actor: User, request: BookingRequest, *, now: datetime | None = None
) -> Booking:
    """Book a desk, seat or room: the one booking path of the API, the web
    form and operators booking for a member.

    Raises NotFound (no such resource), InvalidInput (outside the opening
    hours, closed, past, beyond the horizon), Forbidden (booking for someone
    else without running the location) and BookingConflict (taken, another
    member's fixed desk, or the person already holds an overlapping booking).
    """
    now = now or utcnow()
    with unit_of_work(db):
        resource, location = _load_resource_for_update(db, request.resource_id)
        holder = _holder(db, actor, request.holder_id, location, resource)
        _check_not_fixed_for_others(db, resource, holder)
        window = _booking_window(location, resource, request, now)
        occupancy = _occupancy_params(location, resource, holder.id, window)
        params = {
            **_new_booking_params(
                holder, actor, resource, window, seat=0, now=now, guest=request.guest
            ),
            **occupancy,
        }
        try:
            booking = None
            conn = db.connection()
            # A guest's booking takes the checks one by one (a guest's
            # clash is by e-mail address, not the one-statement path's).
            if conn.dialect.name == "postgresql" and request.guest is None:
                inserted = conn.execute(
                    INSERT_IF_FREE, {**params, "seat_count": resource.seat_count}
                ).first()
                if inserted is not None:
                    booking = _booking(db, params, *inserted)
                    check_not_blocked(db, resource, window.starts_at, window.ends_at)
            if booking is None:
                params["seat"] = _free_seat_or_raise(
                    db, resource, holder, window, params, now
                )
                booking = _insert_booking(db, params, window.slots)
        except IntegrityError as error:
            # Another process won the race past our checks: the database
            # constraints are the real guarantee. Which one said no is only
            # in the driver's message (the transaction cannot ask any more).
            if "user_id" in str(error.orig):
                raise BookingConflict(
                    _person_clash_message(
                        resource.kind,
                        request.guest is not None,
                        holder if holder.id != actor.id else None,
                    )
                ) from None
            raise BookingConflict(_l("This is already booked for that time.")) from None
        # Billing settles it: a credit of the holder's passes, or a hold.
        events.booking_placed.send(
            booking,
            db=db,
            resource=resource,
            location=location,
            holder=holder,
            now=now,
            payment_method=request.payment_method,
        )
        if booking.status == BookingStatus.CONFIRMED:
            events.send_after_commit(db, events.booking_confirmed, booking)
        else:
            # Held for payment: billing marks the mail when the payment
            # confirms the booking.
            booking.mail_due = None
    return booking


def _free_seat_or_raise(
    db: Session,
    resource: LockedResource,
    holder: User,
    window: rules.Window,
    params: dict,
    now: datetime,
) -> int:
    """The seat to book, or the reason why none is, in the order the checks
    have always been made."""
    closed, clash, taken = _occupancy(db, params)
    if closed:
        raise InvalidInput(_l("Closed on that day."), field="date")
    check_not_blocked(db, resource, window.starts_at, window.ends_at)
    guest = bool(params.get("guest_email"))
    other = holder if holder.id != params["created_by_id"] else None
    try:
        _raise_if_clash(clash, resource.kind, guest, other)
        return _pick_seat(resource, taken)
    except BookingConflict:
        # An unpaid hold that ran out is released here (billing answers),
        # so that freeing the desk does not depend on the expire-holds job.
        released = events.ask(
            events.expired_holds_asked,
            db=db,
            resource_id=resource.id,
            user_id=holder.id,
            now=now,
        )
        if not any(released):
            raise
        closed, clash, taken = _occupancy(db, params)
        _raise_if_clash(clash, resource.kind, guest, other)
        return _pick_seat(resource, taken)


def get_booking_for(db: Session, actor: User, booking_id: int) -> Booking:
    """The booking if the actor holds it or runs its location; else 404."""
    booking = db.get(Booking, booking_id)
    if booking is None or (
        booking.user_id != actor.id and not can_manage(db, actor, booking.location_id)
    ):
        raise NotFound(_l("There is no such booking."))
    return booking


def cancel_booking(
    db: Session, actor: User, booking_id: int, *, now: datetime | None = None
) -> Booking:
    """Cancel a live booking and free its slots.

    Members may cancel their own until the location's cut-off; operators
    cancel any in their locations. Raises NotFound, Forbidden, BookingConflict.
    """
    now = now or utcnow()
    with unit_of_work(db):
        booking = get_booking_for(db, actor, booking_id)
        rules.check_cancellable(
            booking,
            booking.location.cancel_cutoff_hours,
            now=now,
            is_operator=can_manage(db, actor, booking.location_id),
        )
        db.execute(delete(BookingSlot).where(BookingSlot.booking_id == booking.id))
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.cancelled_by_id = actor.id
        booking.sequence += 1
        events.booking_released.send(booking, db=db, actor=actor, now=now)
        notices.announce(db, booking, notices.BookingNotice.CANCELLED)
    return booking


def can_cancel(booking: Booking, *, now: datetime, is_operator: bool) -> bool:
    """Whether cancel_booking would cancel it (for the pages)."""
    try:
        rules.check_cancellable(
            booking,
            booking.location.cancel_cutoff_hours,
            now=now,
            is_operator=is_operator,
        )
    except DomainError:
        return False
    return True


def bookings_of(
    db: Session,
    user: User,
    *,
    upcoming: bool,
    now: datetime | None = None,
    limit: int = 200,
) -> list[Booking]:
    now = now or utcnow()
    query = select(Booking).where(Booking.user_id == user.id)
    if upcoming:
        query = query.where(Booking.ends_at > now).order_by(Booking.starts_at)
    else:
        query = query.where(Booking.ends_at <= now).order_by(Booking.starts_at.desc())
    return list(db.scalars(query.limit(limit)))


def all_bookings_of(db: Session, user: User, limit: int = 500) -> list[Booking]:
    return list(
        db.scalars(
            select(Booking)
            .where(Booking.user_id == user.id)
            .order_by(Booking.starts_at.desc())
            .limit(limit)
        )
    )


def booking_holder_for_email(
    db: Session, actor: User, email: str, resource_id: object
) -> int:
    """The account a booking of ``resource_id`` is for, by its e-mail address.

    Raises Forbidden before the address is looked up when the actor may not
    book for others there (only the operators of the resource's location may,
    as in _holder), so that the answer tells nothing about which addresses
    have accounts; NotFound for an unknown resource; InvalidInput when no
    account has the address.
    """
    if (email or "").strip().lower() != actor.email:
        if not actor.is_operator:
            raise Forbidden(_l("Only the location's operators can book for others."))
        resource = db.get(Resource, parse_id(resource_id, "resource_id"))
        if resource is None:
            raise NotFound(_l("There is no such desk or room."))
        if not can_manage(db, actor, resource.location_id):
            raise Forbidden(_l("Only the location's operators can book for others."))
    return holder_for_email(db, email)


def holder_for_email(db: Session, email: str) -> int:
    user = db.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise InvalidInput(
            _l("There is no member with this e-mail address."), field="member"
        )
    return user.id
