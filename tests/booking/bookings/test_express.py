"""The express booking path (bookings/express.py): a member's token booking
of a free desk goes without the ORM (on PostgreSQL in two round trips);
everything else steps aside to the general path and gets the answers it
always got."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import func, select

from booking.auth.models import SessionKind
from booking.auth.services import end_session, start_session
from booking.bookings import express, services
from booking.bookings.models import Booking, BookingSlot
from booking.db import (
    DriverConnection,
    DriverTransaction,
    PreparedStatement,
    get_database,
    utcnow,
)
from booking.spaces.services import add_closure
from tests.conftest import next_weekday
from tests.support.smtp import mailbox, smtp_sink  # noqa: F401

EXPRESS = {
    "postgresql": [
        "landdesk_express_login_and_versioned_desk",
        "landdesk_express_book_if_free",
    ],
    "sqlite": [
        "landdesk_express_login_and_desk",
        "landdesk_occupancy",
        "landdesk_insert_booking",
        "landdesk_insert_slot",
    ],
}


@pytest.fixture
def app_config(app_config, mailbox):  # noqa: F811
    return {**app_config, "MAIL_URL": mailbox.url}


@pytest.fixture
def desk(create_location, create_resource):
    location = create_location(horizon_days=60)
    return create_resource(location, "desk", "Desk 1")


@pytest.fixture
def statements():
    """(name, SQL) of every prepared statement run, PREPAREs left out."""
    PreparedStatement.statements = recorded = []
    yield lambda: [
        (name, sql) for name, sql in recorded if not sql.startswith("PREPARE")
    ]
    PreparedStatement.statements = None


def _book(client, desk, day, **extra):
    return client.post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": day.isoformat(), **extra},
    )


def _pool_is_clean(app):
    """The connection the express path used went back as it came."""
    engine = app.extensions["landdesk_db"].engine
    if engine.dialect.name != "postgresql":
        return True
    pooled = engine.raw_connection()
    try:
        connection = pooled.dbapi_connection
        idle = connection.get_transaction_status() == 0  # TRANSACTION_STATUS_IDLE
        return idle and connection.autocommit is False
    finally:
        pooled.close()


def test_a_token_booking_goes_the_express_way(
    app,
    api,
    db,
    create_user,
    desk,
    statements,
    is_postgres,
    mailbox,  # noqa: F811
):
    member = create_user("m@example.org")
    client = api(member)
    day = next_weekday(2)
    response = _book(client, desk, day)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    names = [name for name, _ in statements()]
    # (Inline mail delivery may read the login afterwards, for the locale.)
    express = EXPRESS["postgresql" if is_postgres else "sqlite"]
    assert names[: len(express)] == express
    assert not {"landdesk_load_resource", "landdesk_load_resource_for_update"} & set(
        names
    )
    if is_postgres:  # two round trips, each its own transaction
        first, second = (sql for _, sql in statements()[:2])
        assert first.startswith("EXECUTE landdesk_express_login_and_versioned_desk(")
        assert second.startswith(
            "EXECUTE landdesk_express_lock_desk(%s); "
            "EXECUTE landdesk_lock_holder(%s); "
            "EXECUTE landdesk_express_book_if_free("
        )
    # The answer is the general path's: the same as reading the booking back.
    assert client.get(f"/api/v1/bookings/{body['id']}").get_json() == body
    assert body["status"] == "confirmed" and body["user_id"] == member.id
    booking = db.get(Booking, body["id"])
    assert booking.created_by_id == member.id and booking.seat == 0
    slots = db.scalar(select(func.count()).where(BookingSlot.booking_id == body["id"]))
    assert slots == 2  # morning and afternoon
    # The confirmation mail is delivered as MAIL_DELIVERY says (inline here).
    [mail] = mailbox.wait(1)
    assert "Desk 1" in mail["Subject"]
    assert _pool_is_clean(app)


def test_steps_aside_with_the_general_answers(
    app, api, db, create_user, desk, statements, is_postgres
):
    member, other = create_user(), create_user()
    client = api(member)
    day = next_weekday(3)
    assert _book(api(other), desk, day).status_code == 201

    taken = _book(client, desk, day)
    assert taken.status_code == 409
    assert taken.get_json()["message"] == "This is already booked for that time."

    closed_day = next_weekday(4)
    add_closure(
        db,
        desk.location.operators[0],
        desk.location_id,
        starts_on=closed_day,
        ends_on=closed_day,
        reason="Kirmes",
    )
    closed = _book(client, desk, closed_day)
    assert closed.status_code == 400
    assert closed.get_json()["message"] == "Closed on that day."

    unknown = client.post(
        "/api/v1/bookings", json={"resource_id": 999999, "date": day.isoformat()}
    )
    assert unknown.status_code == 404

    bad = client.post("/api/v1/bookings", json={"resource_id": desk.id})
    assert bad.status_code == 400 and bad.get_json()["field"] == "date"

    # Nothing of the refused requests was written, and no express booking
    # committed past the general path's refusal.
    assert db.scalar(select(func.count()).select_from(Booking)) == 1
    names = [name for name, _ in statements()]
    express = EXPRESS["postgresql" if is_postgres else "sqlite"]
    assert names.count(express[0]) == 4
    if is_postgres:
        # The guarded insert ran for the other member's booking, the taken
        # desk and the closed day, and inserted only the first.
        assert names.count("landdesk_express_book_if_free") == 3
    else:
        assert names.count("landdesk_insert_booking") == 1
    assert _pool_is_clean(app)


def test_a_dead_token_gets_401_and_books_nothing(api, db, create_user, desk):
    member = create_user()
    client = api(member)
    token = client.environ_base["HTTP_AUTHORIZATION"].split()[1]
    end_session(db, token)
    response = _book(client, desk, next_weekday(1))
    assert response.status_code == 401
    assert db.scalar(select(func.count()).select_from(Booking)) == 0


def test_one_person_one_desk_on_the_express_path(
    api, create_user, create_resource, desk
):
    member = create_user()
    client = api(member)
    day = next_weekday(1)
    other_desk = create_resource(desk.location, "desk", "Desk 2")
    assert _book(client, desk, day).status_code == 201
    clash = _book(client, other_desk, day)
    assert clash.status_code == 409
    assert clash.get_json()["message"] == "You already have a desk booked at that time."


def test_a_browser_session_books_on_the_general_path(
    client, auth, create_user, desk, statements
):
    create_user("web@example.org")
    auth.login("web@example.org")
    response = client.post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": next_weekday(1).isoformat()},
        headers=auth.api_headers(),
    )
    assert response.status_code == 201
    assert not any("express" in name for name, _ in statements())


def test_a_flex_area_fills_seat_by_seat(
    api, create_user, create_location, create_resource, statements
):
    area = create_resource(
        create_location(horizon_days=60), "flex", "Open space", capacity=3
    )
    day = next_weekday(2)
    seats = []
    for _ in range(3):
        response = _book(api(create_user()), area, day)
        assert response.status_code == 201, response.get_json()
        seats.append(response.get_json()["seat"])
    assert seats == [0, 1, 2]
    names = {name for name, _ in statements()}
    assert not {"landdesk_load_resource", "landdesk_load_resource_for_update"} & names
    full = _book(api(create_user()), area, day)
    assert full.status_code == 409
    assert full.get_json()["message"] == (
        "All seats of this area are booked at that time."
    )


def test_no_operator_change_slips_in_between_read_and_insert(
    app, db, create_user, desk, is_postgres
):
    """The express path reads the desk and its location, decides, then
    inserts. PostgreSQL: the insert books only the row versions it read, so
    an operator's change in between sends the booking to the general path.
    SQLite: the path holds the database's write lock from its first read,
    so the change has to wait."""
    member = create_user()
    token = start_session(db, member, SessionKind.API)
    db.commit()
    request = services.BookingRequest.from_values(
        {"resource_id": desk.id, "date": next_weekday(2).isoformat()}
    )
    database = get_database()
    if not is_postgres:
        with DriverTransaction(database) as tx:
            assert tx.execute(
                express._LOGIN_AND_DESK, express._login_params(token, request)
            )
            other = sqlite3.connect(database.engine.url.database, timeout=0.2)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute(
                    "UPDATE resources SET name = 'x' WHERE id = ?", (desk.id,)
                )
            other.close()
        return
    with DriverConnection(database) as conn:
        [row] = conn.run(
            (express._LOGIN_AND_VERSIONED_DESK, express._login_params(token, request))
        )
        *row, resource_version, location_version = row
        user_id, resource, location, window = express._bookable(row, request, utcnow())
        desk.name = "Desk 1 (by the window)"
        db.commit()
        params = {
            **services.new_booking_values(
                user_id, user_id, resource, window, seat=0, now=utcnow()
            ),
            **services.occupancy_params(location, resource, user_id, window),
            "seat_count": 1,
            "resource_version": resource_version,
            "location_version": location_version,
        }
        assert conn.run((express._BOOK_IF_FREE, params)) == []
        assert db.scalar(select(func.count()).select_from(Booking)) == 0
        # Read again, the same request books.
        [(*_, fresh, _)] = conn.run(
            (express._LOGIN_AND_VERSIONED_DESK, express._login_params(token, request))
        )
        assert fresh != resource_version
        booked = conn.run(
            (express._BOOK_IF_FREE, {**params, "resource_version": fresh})
        )
    assert [seat for _, seat in booked] == [0] * len(window.slots)
    assert db.scalar(select(func.count()).select_from(Booking)) == 1


def test_the_lane_hands_everything_else_on_with_its_body(api, create_user, desk):
    """api/express.py answers only its 201s; the Flask app answers the rest
    as before, reading the body the lane had read."""
    client = api(create_user())
    as_text = client.post(
        "/api/v1/bookings",
        data=json.dumps({"resource_id": desk.id, "date": str(next_weekday(1))}),
        content_type="text/plain",
    )
    assert as_text.status_code == 400
    assert as_text.get_json()["message"] == "Send the request body as application/json."
    not_an_object = client.post("/api/v1/bookings", json=[desk.id])
    assert not_an_object.status_code == 400
    no_token = _book(client.application.test_client(), desk, next_weekday(1))
    assert no_token.status_code == 401
    hours = client.post(
        "/api/v1/bookings",
        json={
            "resource_id": desk.id,
            "start": f"{next_weekday(1)}T09:00:00+01:00",
            "end": f"{next_weekday(1)}T11:00:00+01:00",
        },
    )
    assert hours.status_code == 400  # a desk is booked by the day
