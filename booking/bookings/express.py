"""The express path of ``POST /api/v1/bookings``.

The commonest write of the service, a member booking a free desk with an API
token, in three round trips and without the ORM: on two cores the booking's
CPU, not the database's speed, bounds the throughput, and the general path
(``services.create_booking``: Flask-Login, the session, ORM objects, six
round trips) spent two thirds of it outside the statements (bench/README.md).

It books or steps aside. Whatever is not a plain success of that common
case (another holder, a room, a price, a fixed desk, a conflict, bad input,
a dead token) returns None before anything is committed, and the caller
hands the request to the general path, which gives the answer (and its
error message) it always gave. The rules are the general path's own
functions (``services.booking_window``, ``read_occupancy``, ``pick_seat``,
``auth.services.login_is_live``); only the transport differs:

1. ``BEGIN`` + the login and the desk under its row lock (``FOR UPDATE``,
   the lock the general path takes) and the new booking's id, one statement
   (on SQLite: the writer queue and ``BEGIN IMMEDIATE``, as ``unit_of_work``,
   then login and desk);
2. the person's row lock (``services._LOCK_HOLDER``, as the general path)
   and then the general path's occupancy query (closure, the person's
   clash, the taken seats), which so sees every booking of the desk and of
   the person committed before;
3. the booking and its slots + ``COMMIT``.

On SQLite, where statements cost no round trip, the gain is the Python left
out; on PostgreSQL, also the three round trips of six.

The slot primary key stays the guarantee against double booking; an
insert that loses a race steps aside too, and the general path answers 409.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import BigInteger, Integer, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..auth import services as auth_services
from ..auth.models import SessionKind, User
from ..db import Database, DriverTransaction, PreparedStatement, utcnow
from ..errors import DomainError
from ..notifications.services import mail_delivery_start
from ..passes.services import booking_price_cents
from ..spaces.models import DAY_KINDS
from . import services
from .models import Booking, BookingSlot

# Only what the express path reads of the user: fewer values to convert.
_users = User.__table__
_login = auth_services.login_query(_users.c.id, _users.c.is_active).subquery("login")
_LOGIN_COLUMNS = 4  # id, is_active, expires_at, revoked_at
_desk = services._resource_and_location.with_for_update(
    of=services._resources
).subquery("desk")
_LOGIN_AND_DESK = PreparedStatement("express_login_and_desk", select(_login, _desk))
# PostgreSQL: with the new booking's id, so that the insert can carry COMMIT.
_LOGIN_DESK_AND_ID = PreparedStatement(
    "express_login_desk_and_id",
    select(_login, _desk, func.nextval("bookings_id_seq").label("booking_id")),
)
_bookings = Booking.__table__
_new_booking = (
    insert(_bookings)
    .values({c.key: bindparam(c.key) for c in _bookings.c})
    .returning(_bookings.c.id)
    .cte("new_booking")
)
_INSERT_BOOKING_AND_SLOTS = PreparedStatement(
    "express_insert_booking_and_slots",
    insert(BookingSlot.__table__)
    .from_select(
        ["resource_id", "seat", "slot", "booking_id"],
        select(
            bindparam("resource_id", type_=Integer()),
            bindparam("seat", type_=Integer()),
            func.generate_series(
                bindparam("first_slot", type_=BigInteger()),
                bindparam("last_slot", type_=BigInteger()),
            ),
            _new_booking.c.id,
        ),
    )
    .add_cte(_new_booking, nest_here=True),
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
    with DriverTransaction(database) as tx:
        booked = _book(tx, token, request, now)
    if booked is not None:
        start = mail_delivery_start()
        if start is not None:
            start()
    return booked


def _book(tx: DriverTransaction, token: str, request, now: datetime):
    rows = tx.execute(
        _LOGIN_DESK_AND_ID if tx.postgres else _LOGIN_AND_DESK,
        {
            **auth_services.login_params(token, SessionKind.API),
            "resource_id": request.resource_id,
        },
    )
    if not rows:
        return None  # no such login or no such desk
    row = rows[0]
    user_id, is_active, expires_at, revoked_at = row[:_LOGIN_COLUMNS]
    resource, location = services.split_locked_row(
        row[_LOGIN_COLUMNS : -1 if tx.postgres else None]
    )
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
    closed, clash, taken = services.read_occupancy(
        tx.execute(
            services._OCCUPANCY,
            services.occupancy_params(location, resource, user_id, window),
            first=(services._LOCK_HOLDER, {"user_id": user_id})
            if tx.postgres
            else None,  # SQLite's write lock serialises every booking
        )
    )
    if closed or clash is not None or len(taken) >= resource.seat_count:
        return None  # the general path words the refusal (or frees a hold)
    seat = services.pick_seat(resource, taken)
    values = services.new_booking_values(
        user_id, user_id, resource, window, seat=seat, now=now
    )
    try:
        if tx.postgres:
            values["id"] = row[-1]
            tx.execute(
                _INSERT_BOOKING_AND_SLOTS,
                {
                    **values,
                    "first_slot": window.slots[0],
                    "last_slot": window.slots[-1],
                },
                commit=True,
            )
        else:
            [(values["id"],)] = tx.execute(services._INSERT_BOOKING, values)
            tx.executemany(
                services._INSERT_SLOT,
                services.slot_rows(values, values["id"], window.slots),
                commit=True,
            )
    except IntegrityError:
        return None  # lost a race past the lock's reach: the slots are taken
    return SimpleNamespace(**values)
