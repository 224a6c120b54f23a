"""db.PreparedStatement and db.adopt: the hot path's statements give what the
Core statement gives, raise what SQLAlchemy raises, and make real objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session

from booking.auth.models import User
from booking.bookings.models import ACTIVE_STATUSES, Booking, BookingSlot
from booking.bookings.services import BookingRequest, create_booking
from booking.db import PreparedStatement, adopt, unit_of_work
from booking.spaces.models import Location, Resource
from tests.conftest import next_weekday

_locations = Location.__table__
_resources = Resource.__table__
LOCATION_AND_DESKS = PreparedStatement(
    "test_location_and_desks",
    select(
        _locations.c.id,
        _locations.c.opening_hours,  # JSON
        _locations.c.created_at,  # UTCDateTime
        _locations.c.is_active,  # Boolean
        _locations.c.lat,  # Float
        _resources.c.name,
    )
    .join(_resources, _resources.c.location_id == _locations.c.id)
    .where(
        _locations.c.id == bindparam("location_id"),
        _resources.c.kind.in_(["desk", "flex"]),  # a fixed IN list
        _resources.c.created_at < bindparam("before"),
    )
    .order_by(_resources.c.name),
)
BOOKING_IDS = PreparedStatement(
    "test_booking_ids",
    select(Booking.__table__.c.id).where(
        Booking.__table__.c.status.in_(ACTIVE_STATUSES),
        Booking.__table__.c.starts_at >= bindparam("since"),
    ),
)
INSERT_SLOT = PreparedStatement(
    "test_insert_slot",
    insert(BookingSlot.__table__).values(
        {key: bindparam(key) for key in ("resource_id", "seat", "slot", "booking_id")}
    ),
)


@pytest.fixture
def space(create_location, create_resource):
    location = create_location()
    create_resource(location, "desk", "B desk")
    create_resource(location, "flex", "A flex")
    create_resource(location, "room", "C room")
    return location


def test_rows_are_converted_as_by_the_core_statement(db, space):
    params = {"location_id": space.id, "before": datetime.now(UTC) + timedelta(1)}
    core = [tuple(row) for row in db.execute(LOCATION_AND_DESKS.statement, params)]
    rows = LOCATION_AND_DESKS.execute(db.connection(), params)
    assert rows == core
    assert [row[-1] for row in rows] == ["A flex", "B desk"]  # no room
    _, hours, created_at, is_active, lat, _ = rows[0]
    assert isinstance(hours, dict) and hours == space.opening_hours
    assert created_at.tzinfo is not None and created_at == space.created_at
    assert is_active is True and lat == space.lat
    # Naive instants are refused, as by the column type.
    with pytest.raises(Exception, match="naive datetime"):
        LOCATION_AND_DESKS.execute(
            db.connection(), {"location_id": space.id, "before": datetime.now()}
        )


def test_it_reads_what_its_transaction_wrote(db, space, create_user):
    member = create_user()
    desk = next(r for r in space.resources if r.name == "B desk")
    since = datetime.now(UTC)
    with unit_of_work(db):
        booking = create_booking(
            db, member, BookingRequest(desk.id, on=next_weekday(1))
        )
        ids = BOOKING_IDS.execute(db.connection(), {"since": since})
        assert ids == [(booking.id,)]


def test_driver_errors_are_sqlalchemy_errors_and_roll_back(db, space, create_user):
    desk = next(r for r in space.resources if r.name == "B desk")
    booking = create_booking(
        db, create_user(), BookingRequest(desk.id, on=next_weekday(2))
    )
    [slot] = db.scalars(
        select(BookingSlot.slot).where(BookingSlot.booking_id == booking.id).limit(1)
    )
    taken = {"resource_id": desk.id, "seat": 0, "slot": slot, "booking_id": booking.id}
    with pytest.raises(IntegrityError):
        with unit_of_work(db):
            INSERT_SLOT.executemany(db.connection(), [taken])
    # The session is usable again and nothing was written.
    assert db.scalar(select(BookingSlot.slot).where(BookingSlot.slot == slot)) == slot


def test_postgresql_prepares_once_per_connection(db, space, is_postgres):
    params = {"location_id": space.id, "before": datetime.now(UTC)}
    PreparedStatement.statements = seen = []
    try:
        LOCATION_AND_DESKS.execute(db.connection(), params)
        LOCATION_AND_DESKS.execute(db.connection(), params)
    finally:
        PreparedStatement.statements = None
    sql = [statement for _, statement in seen]
    if is_postgres:
        prepares = [s for s in sql if s.startswith("PREPARE")]
        assert len(prepares) <= 1  # none if this connection prepared it before
        assert [s for s in sql if s.startswith("EXECUTE")] == [
            "EXECUTE landdesk_test_location_and_desks(%s, %s, %s, %s)"
        ] * 2
    else:
        assert len(sql) == 2 and all(s.startswith("SELECT") for s in sql)


SAME_NAME_TWICE = PreparedStatement(
    "test_same_name_twice",
    select(_resources.c.name)
    .where(
        _resources.c.location_id == bindparam("location_id"),
        _resources.c.created_at < bindparam("before"),
        _resources.c.created_at <= bindparam("before"),
    )
    .order_by(_resources.c.name),
)


def test_a_parameter_used_twice_is_sent_once_to_postgresql(db, space, is_postgres):
    params = {"location_id": space.id, "before": datetime.now(UTC) + timedelta(hours=1)}
    PreparedStatement.statements = seen = []
    try:
        rows = SAME_NAME_TWICE.execute(db.connection(), params)
    finally:
        PreparedStatement.statements = None
    core = db.execute(SAME_NAME_TWICE.statement, params).all()
    assert rows == [tuple(row) for row in core] and len(rows) == 3
    if is_postgres:
        execute = [s for _, s in seen if s.startswith("EXECUTE")]
        assert execute == ["EXECUTE landdesk_test_same_name_twice(%s, %s)"]


def test_adopt_makes_the_persistent_object_without_a_query(db, create_user):
    member = create_user()
    row = db.execute(select(User.__table__).where(User.id == member.id)).one()
    values = dict(row._mapping)
    db.expunge_all()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        user = adopt(db, User, values)
        assert object_session(user) is db and not db.dirty
        assert user.email == member.email and user.created_at == member.created_at
        assert db.get(User, member.id) is user  # in the identity map
        assert adopt(db, User, {**values, "name": "Other"}) is user  # as a query
        assert user.name == member.name
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []
    user.name = "Changed"  # tracked like any loaded object
    db.commit()
    db.expunge_all()
    assert db.get(User, member.id).name == "Changed"
