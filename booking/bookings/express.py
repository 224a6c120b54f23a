"""The express path of ``POST /api/v1/bookings``.

The commonest write of the service, a member booking a free desk with an API
token, in few round trips and without the ORM: on two cores the booking's
CPU, not the database's speed, bounds the throughput, and the general path
(``services.create_booking``: Flask-Login, the session, ORM objects, six
round trips) spent two thirds of it outside the statements (bench/README.md).

It books or steps aside. Whatever is not a plain success of that common
case (another holder, a room, a price, a fixed desk, a conflict, bad input,
a dead token) returns None before anything is committed, and the caller
hands the request to the general path, which gives the answer (and its
error message) it always gave. The rules are the general path's own
functions (``services.booking_window``, ``pick_seat``, the occupancy
queries, ``auth.services.login_is_live``); only the transport differs.

On PostgreSQL two round trips (``db.DriverConnection``), each one
transaction:

1. the login, the desk and its location, with the row versions (``xmin``)
   of the desk and the location; the Python rules decide on these;
2. the general path's locks, in its order (the desk, ``FOR UPDATE``, then
   the person, ``services._LOCK_HOLDER``), then one insert of the booking
   and its slots that inserts nothing unless the desk and the location are
   still the versions read (no operator changed them meanwhile), the
   location is not closed that day, the person holds no clashing booking
   and a seat is free (the lowest, as ``pick_seat``). As its own statement
   it reads after the locks were granted, so it sees every booking of the
   desk and of the person committed before, as the general path's checks.

On SQLite, where statements cost no round trip, the gain is the Python left
out: the writer queue and ``BEGIN IMMEDIATE`` as in ``unit_of_work``, then
the login and the desk, the general path's occupancy query, the inserts.

The slot primary key stays the guarantee against double booking; an
insert that loses a race steps aside too, and the general path answers 409.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Integer, String, bindparam, func, literal_column, select
from sqlalchemy.exc import IntegrityError

from ..auth import services as auth_services
from ..auth.models import SessionKind, User
from ..db import (
    Database,
    DriverConnection,
    DriverTransaction,
    PreparedStatement,
    utcnow,
)
from ..errors import DomainError
from ..notifications.services import mail_delivery_start
from ..passes.services import booking_price_cents
from ..spaces.models import DAY_KINDS
from . import services
from .models import Booking

# Only what the express path reads of the user: fewer values to convert.
_users = User.__table__
_login = auth_services.login_query(_users.c.id, _users.c.is_active).subquery("login")
_LOGIN_COLUMNS = 4  # id, is_active, expires_at, revoked_at
_resources, _locations = services._resources, services._locations

# SQLite: the writer's lock is held already.
_LOGIN_AND_DESK = PreparedStatement(
    "express_login_and_desk",
    select(_login, services._resource_and_location.subquery("desk")),
)

# PostgreSQL. A row's xmin changes with every update of the row.
_resource_version = literal_column("resources.xmin::text", String())
_location_version = literal_column("locations.xmin::text", String())
_LOGIN_AND_VERSIONED_DESK = PreparedStatement(
    "express_login_and_versioned_desk",
    select(
        _login,
        services._resource_and_location.add_columns(
            _resource_version.label("resource_version"),
            _location_version.label("location_version"),
        ).subquery("desk"),
    ),
)
_LOCK_DESK = PreparedStatement(
    "express_lock_desk",
    select(_resources.c.id)
    .where(_resources.c.id == bindparam("resource_id"))
    .with_for_update(),
)
_unchanged = (
    select(_resources.c.id)
    .join(_locations, _locations.c.id == _resources.c.location_id)
    .where(
        _resources.c.id == bindparam("resource_id"),
        _resource_version == bindparam("resource_version", type_=String()),
        _location_version == bindparam("location_version", type_=String()),
    )
    .exists()
)
_seat = func.generate_series(
    0, bindparam("seat_count", type_=Integer()) - 1
).column_valued("seat")
_free_seat = (
    select(func.min(_seat).label("seat"))
    .where(_seat.not_in(services._TAKEN_SEATS))
    .subquery("free")
)
_bookings = Booking.__table__
_BOOK_IF_FREE = PreparedStatement(
    "express_book_if_free",
    services.insert_with_slots(
        _bookings.insert()
        .from_select(
            services._BOOKING_COLUMNS,
            select(
                *(
                    _free_seat.c.seat
                    if key == "seat"
                    else bindparam(key, type_=_bookings.c[key].type)
                    for key in services._BOOKING_COLUMNS
                )
            ).where(
                _free_seat.c.seat.is_not(None),
                _unchanged,
                ~services._CLOSED.scalar_subquery(),
                ~services._PERSON_CLASH.exists(),
            ),
        )
        .returning(_bookings.c.id, _bookings.c.seat)
        .cte("new_booking")
    ),
)


def is_available(values: dict) -> bool:
    """Worth trying: the caller books for themselves."""
    return values.get("user_id") is None and not values.get("member_email")


def book(database: Database, token: str, values: dict) -> SimpleNamespace | None:
    """Book as the token's user; the new booking's columns, or None to step
    aside (nothing was written then)."""
    try:
        request = services.BookingRequest.from_values(values)
    except DomainError:
        return None
    if request.on is None or not token or len(token) > 200:
        return None  # rooms by the hour, and odd tokens: the general path
    now = utcnow()
    if database.engine.dialect.name == "postgresql":
        with DriverConnection(database) as conn:
            booked = _book_on_postgres(conn, token, request, now)
    else:
        with DriverTransaction(database) as tx:
            booked = _book_on_sqlite(tx, token, request, now)
    if booked is not None:
        start = mail_delivery_start()
        if start is not None:
            start()
    return booked


def _login_params(token: str, request) -> dict:
    return {
        **auth_services.login_params(token, SessionKind.API),
        "resource_id": request.resource_id,
    }


def _bookable(row, request, now: datetime):
    """The holder, desk, location and window of a row of the login and the
    desk, if the express path may book it; else None."""
    user_id, is_active, expires_at, revoked_at = row[:_LOGIN_COLUMNS]
    resource, location = services.split_locked_row(row[_LOGIN_COLUMNS:])
    if (
        not auth_services.login_is_live(is_active, expires_at, revoked_at)
        or not resource.is_active
        or not location.is_active
        or resource.kind not in DAY_KINDS
        or resource.fixed_pass_id is not None
    ):
        return None
    try:
        window = services.booking_window(location, resource, request, now)
    except DomainError:
        return None
    if booking_price_cents(resource, window) != 0:
        return None  # credits or payment: passes.settle_booking
    return user_id, resource, location, window


def _book_on_postgres(conn: DriverConnection, token: str, request, now: datetime):
    rows = conn.run((_LOGIN_AND_VERSIONED_DESK, _login_params(token, request)))
    if not rows:
        return None  # no such login or no such desk
    *row, resource_version, location_version = rows[0]
    bookable = _bookable(row, request, now)
    if bookable is None:
        return None
    user_id, resource, location, window = bookable
    # The seat is the statement's choice.
    values = services.new_booking_values(
        user_id, user_id, resource, window, seat=0, now=now
    )
    try:
        booked = conn.run(
            (_LOCK_DESK, {"resource_id": resource.id}),
            (services._LOCK_HOLDER, {"user_id": user_id}),
            (
                _BOOK_IF_FREE,
                {
                    **values,
                    **services.occupancy_params(location, resource, user_id, window),
                    "seat_count": resource.seat_count,
                    "resource_version": resource_version,
                    "location_version": location_version,
                },
            ),
        )
    except IntegrityError:
        return None  # lost a race past the locks' reach: the slots are taken
    if not booked:
        return None  # the general path words the refusal (or frees a hold)
    values["id"], values["seat"] = booked[0]
    return SimpleNamespace(**values)


def _book_on_sqlite(tx: DriverTransaction, token: str, request, now: datetime):
    rows = tx.execute(_LOGIN_AND_DESK, _login_params(token, request))
    if not rows:
        return None  # no such login or no such desk
    bookable = _bookable(rows[0], request, now)
    if bookable is None:
        return None
    user_id, resource, location, window = bookable
    closed, clash, taken = services.read_occupancy(
        tx.execute(
            services._OCCUPANCY,
            services.occupancy_params(location, resource, user_id, window),
        )
    )
    if closed or clash is not None or len(taken) >= resource.seat_count:
        return None  # the general path words the refusal (or frees a hold)
    values = services.new_booking_values(
        user_id,
        user_id,
        resource,
        window,
        seat=services.pick_seat(resource, taken),
        now=now,
    )
    [(values["id"],)] = tx.execute(services._INSERT_BOOKING, values)
    tx.executemany(
        services._INSERT_SLOT,
        services.slot_rows(values, values["id"], window.slots),
        commit=True,
    )
    return SimpleNamespace(**values)
