"""Creating and cancelling bookings: the one place their rules are enforced."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime

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
    literal_column,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Select

from .. import events
from ..auth.models import User
from ..billing.services import release_expired_holds
from ..calendars.services import check_not_blocked
from ..db import UTCDateTime, persistent, unit_of_work, utcnow
from ..errors import BookingConflict, DomainError, Forbidden, InvalidInput, NotFound
from ..passes import queries as passes_queries
from ..spaces.models import Location, Resource, ResourceKind
from ..spaces.services import can_manage
from ..validation import parse_id
from . import notices, rules
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
        resource_id = parse_id(
            values.get("resource_id"),
            "resource_id",
            message=_l("Choose a desk or room."),
        )
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
# building SQL expressions per request cost more than running them, and a
# statement built once hits SQLAlchemy's compiled cache and, on PostgreSQL
# with psycopg 3, a statement prepared on the server (db.make_engine;
# bench/README.md). Instants carry UTCDateTime explicitly so that SQLite
# gets the stored format. A window's slots are consecutive numbers
# (rules.day_slots, rules.room_slots), so they are passed as their first and
# last.
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


def _constants(values) -> list:
    """Our own enum values written into the SQL: a list of bound values
    would be expanded on every execution."""
    return [literal_column(f"'{value}'") for value in values]


_resources = Resource.__table__
_locations = Location.__table__
_bookings = Booking.__table__
_slots = BookingSlot.__table__
_RESOURCE_FIELDS = [f.name for f in fields(LockedResource)]
_LOCATION_FIELDS = [f.name for f in fields(LockedLocation)]
# The lock serialises bookings of one resource on PostgreSQL; SQLite renders
# no FOR UPDATE, and its BEGIN IMMEDIATE (see db.unit_of_work) already
# serialises all writers.
_LOAD_RESOURCE = (
    select(
        *(_resources.c[name] for name in _RESOURCE_FIELDS),
        *(_locations.c[name] for name in _LOCATION_FIELDS),
    )
    .join(_locations, _locations.c.id == _resources.c.location_id)
    .where(_resources.c.id == bindparam("resource_id"))
    .with_for_update(of=_resources)
)
_CLOSED = select(
    exists().where(
        rules.closes(
            bindparam("location_id"),
            bindparam("day", type_=Date()),
            bindparam("resource_id"),
        )
    )
)
_PERSON_CLASH = (
    select(_bookings.c.id)
    .join(_resources, _resources.c.id == _bookings.c.resource_id)
    .where(
        _bookings.c.user_id == bindparam("user_id"),
        _bookings.c.status.in_(_constants(ACTIVE_STATUSES)),
        _bookings.c.starts_at >= bindparam("earliest", type_=UTCDateTime()),
        rules.overlaps(
            _bookings.c.starts_at,
            _bookings.c.ends_at,
            bindparam("starts_at", type_=UTCDateTime()),
            bindparam("ends_at", type_=UTCDateTime()),
        ),
        # The same category as the booked resource (rules.same_category_kinds):
        # a workplace clashes with workplaces, a room with rooms.
        _resources.c.kind.in_(_constants(sorted(rules.WORKPLACE_KINDS)))
        == bindparam("workplace", type_=Boolean()),
    )
    .limit(1)
)
_TAKEN_SEATS = select(_slots.c.seat).where(
    _slots.c.resource_id == bindparam("resource_id"),
    _slots.c.slot.between(
        bindparam("first_slot", type_=BigInteger()),
        bindparam("last_slot", type_=BigInteger()),
    ),
)
# The three checks above in one round trip: ("closed", 1), ("clash", booking
# id) and one ("seat", n) row per taken seat.
_clash = _PERSON_CLASH.add_columns(literal("clash").label("k")).subquery()
_OCCUPANCY = union_all(
    select(literal("closed").label("k"), literal(1).label("v")).where(
        _CLOSED.scalar_subquery()
    ),
    select(_clash.c.k, _clash.c.id),
    select(literal("seat").label("k"), _TAKEN_SEATS.subquery().c.seat),
)
_BOOKING_COLUMNS = [c.key for c in _bookings.c if c.key != "id"]
_SLOT_COLUMNS = ["resource_id", "seat", "slot", "booking_id", "user_id"]


def _booking_values() -> dict:
    return {
        key: bindparam(key, type_=_bookings.c[key].type) for key in _BOOKING_COLUMNS
    }


# SQLite: the booking, then its slots (statements there cost no round trip).
_INSERT_BOOKING = insert(_bookings).values(_booking_values()).returning(_bookings.c.id)
_INSERT_SLOTS = insert(_slots)


def _insert_with_slots(rows) -> Select:
    """PostgreSQL: one statement that inserts the booking (``rows``, a
    select giving its columns, or nothing) and its slots ``first_slot`` to
    ``last_slot``, and answers the booking's id and seat."""
    new_booking = (
        insert(_bookings)
        .from_select(_BOOKING_COLUMNS, rows)
        .returning(_bookings.c.id, _bookings.c.seat)
        .cte("new_booking")
    )
    new_slots = (
        insert(_slots)
        .from_select(
            _SLOT_COLUMNS,
            select(
                bindparam("resource_id", type_=Integer()),
                new_booking.c.seat,
                func.generate_series(
                    bindparam("first_slot", type_=BigInteger()),
                    bindparam("last_slot", type_=BigInteger()),
                ),
                new_booking.c.id,
                bindparam("slot_holder", type_=Integer()),
            ),
        )
        .returning(_slots.c.slot)
        .cte("new_slots")
    )
    # PostgreSQL runs a data-modifying CTE whether the query reads it or not.
    return select(new_booking).add_cte(new_slots)


_INSERT_BOOKING_AND_SLOTS = _insert_with_slots(select(*_booking_values().values()))

# The common case in one round trip (PostgreSQL): insert the booking with the
# lowest free seat, unless the location or resource is closed that day, the
# person holds a clashing booking or no seat is free; then nothing is
# inserted and create_booking runs the checks one by one to say why. The
# checks are the same expressions as _OCCUPANCY's.
_seat = func.generate_series(
    0, bindparam("seat_count", type_=Integer()) - 1
).column_valued("seat")
_free_seat = (
    select(func.min(_seat).label("seat"))
    .where(_seat.not_in(_TAKEN_SEATS))
    .subquery("free")
)
_INSERT_IF_FREE = _insert_with_slots(
    select(
        *(
            _free_seat.c.seat if key == "seat" else value
            for key, value in _booking_values().items()
        )
    ).where(
        _free_seat.c.seat.is_not(None),
        ~_CLOSED.scalar_subquery(),
        ~_PERSON_CLASH.exists(),
    )
)


# "One room at a time" on PostgreSQL: room bookings of one person queue on
# their user row (after the resource's lock, in every path, so that two of
# them never wait for each other crosswise), so that the person check of the
# one sees the booking the other committed. NO KEY UPDATE: rows referring to
# the user (their other bookings, door events) need not wait for it.
# Workplaces need no such lock (a round trip saved on the commonest
# booking): the unique (user_id, slot) index of booking_slots makes the
# second of two racing bookings of one person wait for the first and fail.
_users = User.__table__
_LOCK_HOLDER = (
    select(_users.c.id)
    .where(_users.c.id == bindparam("user_id"))
    .with_for_update(key_share=True)
)


def _load_resource_for_update(
    db: Session, resource_id: int
) -> tuple[LockedResource, LockedLocation]:
    row = db.connection().execute(_LOAD_RESOURCE, {"resource_id": resource_id}).first()
    if row is None:
        raise NotFound(_l("There is no such desk or room."))
    split = len(_RESOURCE_FIELDS)
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
    owner = passes_queries.fixed_holder(db, resource.fixed_pass_id)
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
            db.connection().execute(_LOCK_HOLDER, {"user_id": actor.id})
        return actor
    if not can_manage(db, actor, location.id):
        raise Forbidden(_l("Only the location's operators can book for others."))
    query = select(User).where(User.id == holder_id)
    if postgres:
        query = query.with_for_update(key_share=True)  # as _LOCK_HOLDER
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
    """Closed?, the holder's clashing booking, the seats taken: one query."""
    closed, clash, taken = False, None, set()
    for kind, value in db.connection().execute(_OCCUPANCY, params):
        if kind == "closed":
            closed = True
        elif kind == "clash":
            clash = value
        else:
            taken.add(value)
    return closed, clash, taken


def _raise_if_clash(clash: int | None, kind: ResourceKind) -> None:
    if clash is not None:
        raise BookingConflict(_person_clash_message(kind), booking_id=clash)


def _person_clash_message(kind: ResourceKind):
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
        booking_id, seat = conn.execute(_INSERT_BOOKING_AND_SLOTS, params).one()
        return _booking(db, params, booking_id, seat)
    booking_id = conn.execute(_INSERT_BOOKING, params).scalar_one()
    conn.execute(
        _INSERT_SLOTS,
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
    values = {key: params[key] for key in _BOOKING_COLUMNS}
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
) -> dict:
    """Every column of a new confirmed booking but its id, and its slots'
    holder: set for workplaces, so that the database refuses a person two
    desks at once (bookings.models.BookingSlot)."""
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
        "slot_holder": holder.id if resource.kind in rules.WORKPLACE_KINDS else None,
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
            **_new_booking_params(holder, actor, resource, window, seat=0, now=now),
            **occupancy,
        }
        try:
            booking = None
            conn = db.connection()
            if conn.dialect.name == "postgresql":
                inserted = conn.execute(
                    _INSERT_IF_FREE, {**params, "seat_count": resource.seat_count}
                ).first()
                if inserted is not None:
                    booking = _booking(db, params, *inserted)
                    check_not_blocked(db, resource, window.starts_at, window.ends_at)
            if booking is None:
                params["seat"] = _free_seat_or_raise(
                    db, resource, holder, window, occupancy, now
                )
                booking = _insert_booking(db, params, window.slots)
        except IntegrityError as error:
            # Another process won the race past our checks: the database
            # constraints are the real guarantee. Which one said no is only
            # in the driver's message (the transaction cannot ask any more).
            if "user_id" in str(error.orig):
                raise BookingConflict(_person_clash_message(resource.kind)) from None
            raise BookingConflict(_l("This is already booked for that time.")) from None
        # Billing settles it: a credit of the holder's passes, or a hold.
        events.booking_placed.send(
            booking, db=db, resource=resource, location=location, holder=holder, now=now
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
    try:
        _raise_if_clash(clash, resource.kind)
        return _pick_seat(resource, taken)
    except BookingConflict:
        # An unpaid hold that ran out is released here, so that freeing
        # the desk does not depend on the expire-holds cron job.
        if not release_expired_holds(
            db, now, resource_id=resource.id, user_id=holder.id
        ):
            raise
        closed, clash, taken = _occupancy(db, params)
        _raise_if_clash(clash, resource.kind)
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
