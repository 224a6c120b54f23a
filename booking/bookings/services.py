"""Creating and cancelling bookings: the one place their rules are enforced."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import CTE, Insert

from ..access.pins import revoke_booking_pins
from ..auth.models import User
from ..billing.services import release_expired_holds
from ..calendars.services import check_not_blocked
from ..db import PreparedStatement, UTCDateTime, adopt, unit_of_work, utcnow
from ..errors import BookingConflict, Forbidden, InvalidInput, NotFound
from ..notifications.models import NotificationKind
from ..notifications.services import deliver_after_commit, notify_booking_cancelled
from ..passes import fixed_desks
from ..passes import services as passes_services
from ..spaces.models import Closure, Location, Resource, ResourceKind
from ..spaces.services import can_manage
from . import rules
from .models import ACTIVE_STATUSES, Booking, BookingSlot, BookingStatus, DayPart


@dataclass(frozen=True)
class BookingRequest:
    """What someone asks for: a day or half day of a desk, or hours of a room."""

    resource_id: int
    on: date | None = None
    part: DayPart = DayPart.FULL
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    holder_id: int | None = None  # an operator booking for a member

    @classmethod
    def from_values(
        cls, values: dict, *, holder_id: int | None = None
    ) -> BookingRequest:
        """Parse API/form values; raises InvalidInput with the offending field."""
        resource_id = values.get("resource_id")
        if isinstance(resource_id, str) and resource_id.isdigit():
            resource_id = int(resource_id)
        if not isinstance(resource_id, int) or isinstance(resource_id, bool):
            raise InvalidInput(_l("Choose a desk or room."), field="resource_id")
        has_day = values.get("date") not in (None, "")
        has_hours = values.get("start") not in (None, "") or values.get("end") not in (
            None,
            "",
        )
        if has_day == has_hours:
            raise InvalidInput(
                _l("Give either a date (desks) or a start and an end (rooms)."),
                field="date",
            )
        if has_day:
            part = values.get("part") or DayPart.FULL
            if part not in (DayPart.FULL, DayPart.AM, DayPart.PM):
                raise InvalidInput(
                    _l("The part of a day is am or pm (or none for the full day)."),
                    field="part",
                )
            return cls(
                resource_id,
                on=rules.parse_date(values["date"]),
                part=DayPart(part),
                holder_id=holder_id,
            )
        if values.get("start") in (None, "") or values.get("end") in (None, ""):
            raise InvalidInput(_l("Give a start and an end."), field="end")
        return cls(
            resource_id,
            part=DayPart.HOURS,
            starts_at=rules.parse_instant(values["start"], "start"),
            ends_at=rules.parse_instant(values["end"], "end"),
            holder_id=holder_id,
        )


# The statements of the booking path are built once, with bound parameters:
# building SQL expressions per request cost more than running them, and on
# PostgreSQL so did planning them, so there they are prepared statements
# (db.PreparedStatement; see bench/README.md). Instants carry UTCDateTime
# explicitly so that SQLite gets the stored format. A window's slots are
# consecutive numbers (rules.day_slots, rules.room_slots), so they are passed
# as their first and last.
@dataclass(frozen=True, slots=True)
class LockedResource:
    """What booking reads of a resource, as read under the lock.

    Plain values rather than an ORM object: making ORM objects of the
    resource and location rows (every column, identity map) cost about a
    tenth of a booking (bench/README.md). Satisfies rules.BookableResource.
    """

    id: int
    location_id: int
    name: str
    kind: ResourceKind
    capacity: int
    is_active: bool
    price_day_cents: int
    price_half_day_cents: int
    price_hour_cents: int
    fixed_pass_id: int | None
    # The model's own rules.
    seat_count = Resource.seat_count
    is_day_bookable = Resource.is_day_bookable


@dataclass(frozen=True, slots=True)
class LockedLocation:
    """What booking reads of a location (see LockedResource)."""

    id: int
    timezone: str
    opening_hours: dict
    midday: str
    horizon_days: int
    is_active: bool


_resources = Resource.__table__
_locations = Location.__table__
_RESOURCE_FIELDS = [f.name for f in fields(LockedResource)]
_LOCATION_FIELDS = [f.name for f in fields(LockedLocation)]
# The lock serialises bookings of one resource on PostgreSQL; SQLite's BEGIN
# IMMEDIATE (see db.unit_of_work) already serialises all writers.
_resource_and_location = (
    select(
        *(_resources.c[name] for name in _RESOURCE_FIELDS),
        *(_locations.c[name] for name in _LOCATION_FIELDS),
    )
    .join(_locations, _locations.c.id == _resources.c.location_id)
    .where(_resources.c.id == bindparam("resource_id"))
)
_LOAD_RESOURCE = PreparedStatement("load_resource", _resource_and_location)
_LOAD_RESOURCE_FOR_UPDATE = PreparedStatement(
    "load_resource_for_update", _resource_and_location.with_for_update(of=_resources)
)
_CLOSED = select(
    exists().where(
        Closure.location_id == bindparam("location_id"),
        or_(
            Closure.resource_id.is_(None),
            Closure.resource_id == bindparam("resource_id"),
        ),
        Closure.starts_on <= bindparam("day", type_=Date()),
        Closure.ends_on >= bindparam("day", type_=Date()),
    )
)
_PERSON_CLASH = (
    select(Booking.id)
    .join(Resource, Resource.id == Booking.resource_id)
    .where(
        Booking.user_id == bindparam("user_id"),
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.starts_at >= bindparam("earliest", type_=UTCDateTime()),
        rules.overlaps(
            Booking.starts_at,
            Booking.ends_at,
            bindparam("starts_at", type_=UTCDateTime()),
            bindparam("ends_at", type_=UTCDateTime()),
        ),
        # The same category as the booked resource (rules.same_category_kinds):
        # a workplace clashes with workplaces, a room with rooms.
        Resource.kind.in_(sorted(rules.WORKPLACE_KINDS))
        == bindparam("workplace", type_=Boolean()),
    )
    .limit(1)
)
_TAKEN_SEATS = select(BookingSlot.seat).where(
    BookingSlot.resource_id == bindparam("resource_id"),
    BookingSlot.slot.between(
        bindparam("first_slot", type_=BigInteger()),
        bindparam("last_slot", type_=BigInteger()),
    ),
)
# The three checks above in one round trip: ("closed", 1), ("clash", booking
# id) and one ("seat", n) row per taken seat.
_clash = _PERSON_CLASH.add_columns(literal("clash").label("k")).subquery()
_OCCUPANCY = PreparedStatement(
    "occupancy",
    union_all(
        select(literal("closed").label("k"), literal(1).label("v")).where(
            _CLOSED.scalar_subquery()
        ),
        select(_clash.c.k, _clash.c.id),
        select(literal("seat").label("k"), _TAKEN_SEATS.subquery().c.seat),
    ),
)
# Every column, so that the object made from the row needs no query.
_BOOKING_COLUMNS = [c.key for c in Booking.__table__.c if c.key != "id"]
_new_booking = insert(Booking.__table__).values(
    {key: bindparam(key) for key in _BOOKING_COLUMNS}
)
_INSERT_BOOKING = PreparedStatement(
    "insert_booking", _new_booking.returning(Booking.__table__.c.id)
)
_INSERT_SLOT = PreparedStatement(
    "insert_slot",
    insert(BookingSlot.__table__).values(
        {key: bindparam(key) for key in ("resource_id", "seat", "slot", "booking_id")}
    ),
)


def insert_with_slots(new_booking: CTE) -> Insert:
    """PostgreSQL: the insert of a booking (a CTE returning its id and
    seat) and of its slots, ``first_slot`` to ``last_slot``, in one
    statement (one round trip); it returns a row per slot."""
    slots = BookingSlot.__table__
    return (
        insert(slots)
        .from_select(
            ["resource_id", "seat", "slot", "booking_id"],
            select(
                bindparam("resource_id", type_=Integer()),
                new_booking.c.seat,
                func.generate_series(
                    bindparam("first_slot", type_=BigInteger()),
                    bindparam("last_slot", type_=BigInteger()),
                ),
                new_booking.c.id,
            ),
        )
        .returning(slots.c.booking_id, slots.c.seat)
        .add_cte(new_booking, nest_here=True)
    )


_INSERT_BOOKING_AND_SLOTS = PreparedStatement(
    "insert_booking_and_slots",
    insert_with_slots(
        _new_booking.returning(Booking.__table__.c.id, Booking.__table__.c.seat).cte(
            "new_booking"
        )
    ),
)


# "One body, one desk" on PostgreSQL: bookings of one person queue on their
# user row (after the resource's lock, in every path, so that two of them
# never wait for each other crosswise), so that the person check of the one
# sees the booking the other committed. NO KEY UPDATE: rows referring to the
# user (their other bookings, door events) need not wait for it.
_LOCK_HOLDER = PreparedStatement(
    "lock_holder",
    select(User.__table__.c.id)
    .where(User.__table__.c.id == bindparam("user_id"))
    .with_for_update(key_share=True),
)


def _load_resource_for_update(
    db: Session, resource_id: int
) -> tuple[LockedResource, LockedLocation]:
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        query = _LOAD_RESOURCE_FOR_UPDATE
    else:
        query = _LOAD_RESOURCE
    rows = query.execute(conn, {"resource_id": resource_id})
    if not rows:
        raise NotFound(_l("There is no such desk or room."))
    resource, location = split_locked_row(rows[0])
    if not resource.is_active:
        raise NotFound(_l("There is no such desk or room."))
    if not location.is_active:
        raise InvalidInput(_l("This location takes no bookings at the moment."))
    return resource, location


def split_locked_row(row: Sequence) -> tuple[LockedResource, LockedLocation]:
    """The resource and location of a row of _resource_and_location's columns."""
    split = len(_RESOURCE_FIELDS)
    return LockedResource(*row[:split]), LockedLocation(*row[split:])


def _check_not_fixed_for_others(
    db: Session, resource: LockedResource, holder: User
) -> None:
    """A member's fixed desk is theirs alone (passes.fixed_desks); a desk
    without one costs no query."""
    if resource.fixed_pass_id is None:
        return
    owner = fixed_desks.fixed_holder(db, resource.fixed_pass_id)
    if owner is not None and owner != holder.id:
        raise BookingConflict(_l("This desk is a member's fixed desk."))


def _holder(
    db: Session, actor: User, holder_id: int | None, location: LockedLocation
) -> User:
    if holder_id is None or holder_id == actor.id:
        if db.get_bind().dialect.name == "postgresql":
            _LOCK_HOLDER.execute(db.connection(), {"user_id": actor.id})
        return actor
    if not can_manage(db, actor, location.id):
        raise Forbidden(_l("Only the location's operators can book for others."))
    query = select(User).where(User.id == holder_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)  # as _LOCK_HOLDER
    holder = db.scalar(query)
    if holder is None or not holder.is_active:
        raise InvalidInput(_l("There is no such member."), field="member")
    return holder


def _check_person_free(
    db: Session, holder: User, kind: ResourceKind, window: rules.Window
) -> None:
    clash = (
        db.connection()
        .execute(
            _PERSON_CLASH,
            {
                "user_id": holder.id,
                "earliest": window.starts_at - rules.MAX_BOOKING_LENGTH,
                "starts_at": window.starts_at,
                "ends_at": window.ends_at,
                "workplace": kind in rules.WORKPLACE_KINDS,
            },
        )
        .scalar()
    )
    _raise_if_clash(clash, kind)


def _occupancy(
    db: Session,
    location: LockedLocation,
    resource: LockedResource,
    holder: User,
    window: rules.Window,
) -> tuple[bool, int | None, set[int]]:
    """Closed?, the holder's clashing booking, the seats taken: one query."""
    rows = _OCCUPANCY.execute(
        db.connection(), occupancy_params(location, resource, holder.id, window)
    )
    return read_occupancy(rows)


def occupancy_params(
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


def read_occupancy(rows: Iterable[Sequence]) -> tuple[bool, int | None, set[int]]:
    """Closed?, the clashing booking, the seats taken, from _OCCUPANCY's rows."""
    closed, clash, taken = False, None, set()
    for kind, value in rows:
        if kind == "closed":
            closed = True
        elif kind == "clash":
            clash = value
        else:
            taken.add(value)
    return closed, clash, taken


def _raise_if_clash(clash: int | None, kind: ResourceKind) -> None:
    if clash is not None:
        if kind in rules.WORKPLACE_KINDS:
            message = _l("You already have a desk booked at that time.")
        else:
            message = _l("You already have a room booked at that time.")
        raise BookingConflict(message, booking_id=clash)


def _free_seat(db: Session, resource: LockedResource, slots: tuple[int, ...]) -> int:
    taken = set(
        db.connection()
        .execute(
            _TAKEN_SEATS,
            {
                "resource_id": resource.id,
                "first_slot": slots[0],
                "last_slot": slots[-1],
            },
        )
        .scalars()
    )
    return pick_seat(resource, taken)


def pick_seat(resource: LockedResource, taken: set[int]) -> int:
    for seat in range(resource.seat_count):
        if seat not in taken:
            return seat
    if resource.kind == ResourceKind.FLEX:
        raise BookingConflict(_l("All seats of this area are booked at that time."))
    raise BookingConflict(_l("This is already booked for that time."))


def _insert_booking(db: Session, values: dict, slots: tuple[int, ...]) -> int:
    """Insert the booking and its slots with Core (no ORM flush); its id."""
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        params = {**values, "first_slot": slots[0], "last_slot": slots[-1]}
        return _INSERT_BOOKING_AND_SLOTS.execute(conn, params)[0][0]
    [(booking_id,)] = _INSERT_BOOKING.execute(conn, values)
    _INSERT_SLOT.executemany(conn, slot_rows(values, booking_id, slots))
    return booking_id


def slot_rows(values: dict, booking_id: int, slots: tuple[int, ...]) -> list[dict]:
    """The booking_slots rows of a new booking (SQLite's insert)."""
    return [
        {
            "resource_id": values["resource_id"],
            "seat": values["seat"],
            "slot": slot,
            "booking_id": booking_id,
        }
        for slot in slots
    ]


def booking_window(
    location: LockedLocation,
    resource: LockedResource,
    request: BookingRequest,
    now: datetime,
) -> rules.Window:
    """The window asked for, checked against opening hours, horizon and now."""
    if request.on is not None:
        window = rules.day_window(location, resource, request.on, request.part)
    else:
        window = rules.hour_window(
            location, resource, request.starts_at, request.ends_at
        )
    rules.check_bookable_time(location, window, now)
    return window


def new_booking_values(
    holder_id: int,
    actor_id: int,
    resource: LockedResource,
    window: rules.Window,
    *,
    seat: int,
    now: datetime,
) -> dict:
    """Every column of a new confirmed booking but its id."""
    return {
        "user_id": holder_id,
        "resource_id": resource.id,
        "location_id": resource.location_id,
        "seat": seat,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "booked_on": window.booked_on,
        "part": str(window.part),
        "status": str(BookingStatus.CONFIRMED),
        "created_at": now,
        "created_by_id": actor_id,
        "cancelled_at": None,
        "cancelled_by_id": None,
        "sequence": 0,
        "hold_expires_at": None,
        "settled_by": None,
        "checked_in_at": None,
        # The confirmation mail goes out after the commit (notifications).
        "mail_due": str(NotificationKind.BOOKING_CONFIRMED),
    }


def create_booking(
    db: Session, actor: User, request: BookingRequest, *, now: datetime | None = None
) -> Booking:
    """Book a desk, seat or room.

    Raises NotFound (no such resource), InvalidInput (outside the opening
    hours, closed, past, beyond the horizon), Forbidden (booking for someone
    else without running the location) and BookingConflict (taken, another
    member's fixed desk, or the person already holds an overlapping booking).
    """
    now = now or utcnow()
    with unit_of_work(db):
        resource, location = _load_resource_for_update(db, request.resource_id)
        holder = _holder(db, actor, request.holder_id, location)
        _check_not_fixed_for_others(db, resource, holder)
        window = booking_window(location, resource, request, now)
        closed, clash, taken = _occupancy(db, location, resource, holder, window)
        if closed:
            raise InvalidInput(_l("Closed on that day."), field="date")
        check_not_blocked(db, resource, window.starts_at, window.ends_at)
        try:
            _raise_if_clash(clash, resource.kind)
            seat = pick_seat(resource, taken)
        except BookingConflict:
            # An unpaid hold that ran out is released here, so that freeing
            # the desk does not depend on the expire-holds cron job.
            if not release_expired_holds(
                db, now, resource_id=resource.id, user_id=holder.id
            ):
                raise
            _check_person_free(db, holder, resource.kind, window)
            seat = _free_seat(db, resource, window.slots)
        values = new_booking_values(
            holder.id, actor.id, resource, window, seat=seat, now=now
        )
        try:
            booking_id = _insert_booking(db, values, window.slots)
        except IntegrityError:
            # Another process won the race past our checks: the database
            # constraint is the real guarantee.
            raise BookingConflict(_l("This is already booked for that time.")) from None
        # The session gets the row it just wrote without reading it back.
        booking = adopt(db, Booking, {"id": booking_id, **values})
        passes_services.settle_booking(
            db, booking, resource=resource, location=location, holder=holder, now=now
        )
        if booking.status != BookingStatus.CONFIRMED:
            # Held for payment: billing marks the mail when the payment
            # confirms the booking.
            booking.mail_due = None
        deliver_after_commit(db)
    return booking


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
        if not booking.is_active:
            raise BookingConflict(_l("This booking is already cancelled."))
        if booking.ends_at <= now:
            raise BookingConflict(_l("This booking is over and cannot be cancelled."))
        if not can_manage(db, actor, booking.location_id):
            cutoff = booking.starts_at - timedelta(
                hours=booking.location.cancel_cutoff_hours
            )
            if now > cutoff and booking.location.cancel_cutoff_hours:
                raise Forbidden(
                    _l(
                        "Bookings can be cancelled up to %(hours)d hours "
                        "before they start.",
                        hours=booking.location.cancel_cutoff_hours,
                    )
                )
        db.execute(delete(BookingSlot).where(BookingSlot.booking_id == booking.id))
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.cancelled_by_id = actor.id
        booking.sequence += 1
        passes_services.release_booking(db, booking, actor=actor, now=now)
        # No domain events yet (issue 16.6): access is called directly.
        revoke_booking_pins(db, booking, "cancelled")
        notify_booking_cancelled(db, booking)
    return booking


def can_cancel(booking: Booking, *, now: datetime, is_operator: bool) -> bool:
    if not booking.is_active or booking.ends_at <= now:
        return False
    if is_operator:
        return True
    cutoff_hours = booking.location.cancel_cutoff_hours
    return not cutoff_hours or now <= booking.starts_at - timedelta(hours=cutoff_hours)


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


def holder_for_email(db: Session, email: str) -> int:
    user = db.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise InvalidInput(
            _l("There is no member with this e-mail address."), field="member"
        )
    return user.id
