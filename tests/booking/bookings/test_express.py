"""The express booking path (bookings/express.py): a member's token booking
of a free desk goes without the ORM (on PostgreSQL in three round trips);
everything else steps aside to the general path and gets the answers it
always got."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from booking.auth.services import end_session
from booking.bookings.models import Booking, BookingSlot
from booking.db import PreparedStatement
from booking.spaces.services import add_closure
from tests.conftest import next_weekday
from tests.support.smtp import mailbox, smtp_sink  # noqa: F401

EXPRESS = {
    "postgresql": [
        "landdesk_express_login_desk_and_id",
        "landdesk_occupancy",
        "landdesk_express_insert_booking_and_slots",
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
    if is_postgres:  # three round trips: BEGIN and COMMIT travel along
        first, second, last = (sql for _, sql in statements()[:3])
        assert first.startswith("BEGIN; EXECUTE landdesk_express_login_desk_and_id")
        assert second.startswith("EXECUTE landdesk_lock_holder(%s); EXECUTE")
        assert last.endswith("; COMMIT")
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
    assert names.count(express[2]) == 1  # only the other member's booking
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
    response = _book(client, desk, next_weekday(1))
    assert response.status_code == 201
    assert not any("express" in name for name, _ in statements())
