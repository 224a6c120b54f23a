"""The SQL of the booking path (services.create_booking), built once."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.sql.expression import Select

from ..auth.models import User
from ..db import UTCDateTime
from ..spaces.models import Location, Resource, ResourceKind
from . import rules
from .models import ACTIVE_STATUSES, Booking, BookingSlot


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
RESOURCE_FIELDS = [f.name for f in fields(LockedResource)]
LOCATION_FIELDS = [f.name for f in fields(LockedLocation)]
# The lock serialises bookings of one resource on PostgreSQL; SQLite renders
# no FOR UPDATE, and its BEGIN IMMEDIATE (see db.unit_of_work) already
# serialises all writers.
LOAD_RESOURCE = (
    select(
        *(_resources.c[name] for name in RESOURCE_FIELDS),
        *(_locations.c[name] for name in LOCATION_FIELDS),
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


def _clash_of(person) -> Select:
    """A live booking of ``person`` (a condition on bookings) that overlaps
    the window in the booked resource's category."""
    return (
        select(_bookings.c.id)
        .join(_resources, _resources.c.id == _bookings.c.resource_id)
        .where(
            person,
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


# A member's own bookings, not their guests': one person, one workplace, and
# a guest is a person of their own.
_PERSON_CLASH = _clash_of(
    (_bookings.c.user_id == bindparam("user_id")) & _bookings.c.guest_email.is_(None)
)
# A guest's: by their e-mail address, whoever booked for them.
_GUEST_CLASH = _clash_of(
    _bookings.c.guest_email == bindparam("guest_email", type_=String())
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
def _occupancy_of(clash: Select):
    clash = clash.add_columns(literal("clash").label("k")).subquery()
    return union_all(
        select(literal("closed").label("k"), literal(1).label("v")).where(
            _CLOSED.scalar_subquery()
        ),
        select(clash.c.k, clash.c.id),
        select(literal("seat").label("k"), _TAKEN_SEATS.subquery().c.seat),
    )


OCCUPANCY = _occupancy_of(_PERSON_CLASH)
GUEST_OCCUPANCY = _occupancy_of(_GUEST_CLASH)
BOOKING_COLUMNS = [c.key for c in _bookings.c if c.key != "id"]
_SLOT_COLUMNS = ["resource_id", "seat", "slot", "booking_id", "user_id"]


def _booking_values() -> dict:
    return {key: bindparam(key, type_=_bookings.c[key].type) for key in BOOKING_COLUMNS}


# SQLite: the booking, then its slots (statements there cost no round trip).
INSERT_BOOKING = insert(_bookings).values(_booking_values()).returning(_bookings.c.id)
INSERT_SLOTS = insert(_slots)


def _insert_with_slots(rows) -> Select:
    """PostgreSQL: one statement that inserts the booking (``rows``, a
    select giving its columns, or nothing) and its slots ``first_slot`` to
    ``last_slot``, and answers the booking's id and seat."""
    new_booking = (
        insert(_bookings)
        .from_select(BOOKING_COLUMNS, rows)
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


INSERT_BOOKING_AND_SLOTS = _insert_with_slots(select(*_booking_values().values()))

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
INSERT_IF_FREE = _insert_with_slots(
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
LOCK_HOLDER = (
    select(_users.c.id)
    .where(_users.c.id == bindparam("user_id"))
    .with_for_update(key_share=True)
)
