from sqlalchemy import select, update

from booking.db import unit_of_work
from booking.spaces.models import Resource


def test_locking_read_refreshes_rows_loaded_earlier(
    app, db, create_location, create_resource
):
    location = create_location()
    desk = create_resource(location, "desk", "Old name")
    assert db.get(Resource, desk.id).name == "Old name"
    # another connection changes the row behind this session's back
    with app.extensions["landdesk_db"].engine.begin() as conn:
        conn.execute(
            update(Resource).where(Resource.id == desk.id).values(name="New name")
        )
    with unit_of_work(db):
        locked = db.scalars(
            select(Resource).where(Resource.id == desk.id).with_for_update()
        ).one()
        assert locked.name == "New name"


def test_on_commit_runs_only_after_commit(db):
    from booking.db import on_commit

    ran = []
    try:
        with unit_of_work(db):
            on_commit(db, lambda: ran.append("rolled back"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with unit_of_work(db):
        on_commit(db, lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]


# --- one transaction per request (issue 15 point 9) ---------------------------


def _location_name(app, location_id: int) -> str:
    from booking.spaces.models import Location

    with app.extensions["landdesk_db"].engine.connect() as conn:
        return conn.scalar(select(Location.name).where(Location.id == location_id))


def _resource_names(app, location_id: int) -> list[str]:
    with app.extensions["landdesk_db"].engine.connect() as conn:
        return list(
            conn.scalars(
                select(Resource.name)
                .where(Resource.location_id == location_id)
                .order_by(Resource.id)
            )
        )


def _two_services_route(app, location, *, second: dict, catch: bool = False):
    """A view that calls two services: renames the location, then adds a
    resource with ``second`` as its values."""
    from flask import flash, redirect

    from booking.db import get_db
    from booking.errors import DomainError
    from booking.spaces import services

    operator_id = location.operators[0].id

    def two_services():
        from booking.auth.models import User

        db = get_db()
        operator = db.get(User, operator_id)
        services.update_location(db, operator, location.id, {"name": "Renamed"})
        try:
            services.create_resource(db, operator, location.id, second)
        except DomainError as error:
            if not catch:
                raise
            flash(str(error.message), "error")
        return redirect("/", 303)

    app.add_url_rule(
        "/test/two-services", "two_services", two_services, methods=["POST"]
    )


def _post(client, auth):
    return client.post("/test/two-services", data={"csrf_token": auth.csrf()})


def test_a_request_whose_second_service_fails_keeps_nothing_of_the_first(
    app, client, auth, create_location
):
    location = create_location(name="Old name")
    _two_services_route(app, location, second={"name": "Desk", "kind": "spaceship"})

    response = _post(client, auth)

    assert response.status_code == 400
    assert _location_name(app, location.id) == "Old name"
    assert _resource_names(app, location.id) == []


def test_an_error_the_view_answers_with_a_redirect_keeps_nothing_either(
    app, client, auth, create_location
):
    location = create_location(name="Old name")
    _two_services_route(
        app, location, second={"name": "Desk", "kind": "spaceship"}, catch=True
    )

    response = _post(client, auth)

    assert response.status_code == 303
    assert _location_name(app, location.id) == "Old name"
    assert _resource_names(app, location.id) == []


def test_a_request_whose_services_succeed_keeps_both(
    app, client, auth, create_location
):
    location = create_location(name="Old name")
    _two_services_route(app, location, second={"name": "Desk 1", "kind": "desk"})

    response = _post(client, auth)

    assert response.status_code == 303
    assert _location_name(app, location.id) == "Renamed"
    assert _resource_names(app, location.id) == ["Desk 1"]


def test_after_commit_callbacks_of_a_request_run_once_the_request_committed(
    app, client, auth, create_location
):
    from booking.db import get_db, on_commit
    from booking.spaces.models import Location

    location = create_location(name="Old name")
    seen = []

    def view():
        db = get_db()
        with unit_of_work(db):
            db.get(Location, location.id).name = "Callback"
            on_commit(db, lambda: seen.append(_location_name(app, location.id)))
        # The unit is over, but the request has not answered: nothing is
        # committed and the callback has not run.
        seen.append(("after the unit", _location_name(app, location.id)))
        return "ok"

    app.add_url_rule("/test/callback", "callback", view, methods=["POST"])
    response = client.post("/test/callback", data={"csrf_token": auth.csrf()})

    assert response.status_code == 200
    assert seen == [("after the unit", "Old name"), "Callback"]


def test_outside_a_request_each_unit_commits_at_its_end(app, db, create_location):
    from booking.spaces.services import update_location

    location = create_location(name="Old name")
    update_location(db, location.operators[0], location.id, {"name": "New name"})
    assert _location_name(app, location.id) == "New name"


def test_a_released_savepoint_does_not_count_as_the_commit(db):
    from booking.db import on_commit

    ran = []
    try:
        with unit_of_work(db):
            on_commit(db, lambda: ran.append("rolled back"))
            with db.begin_nested():  # released: not the transaction's outcome
                pass
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with unit_of_work(db):
        pass
    assert ran == []


def test_reads_before_the_first_write_hold_no_transaction_on_postgresql(
    app, client, auth, create_location
):
    """PostgreSQL: a request's reads run in autocommit (no BEGIN, no
    ROLLBACK); its first unit of work begins the transaction it commits.
    SQLite keeps its lazy BEGIN DEFERRED for reads."""
    from booking.db import get_db
    from booking.spaces.models import Location

    location = create_location(name="Old name")
    seen = {}

    def transaction_open(db) -> bool:
        driver = db.connection().connection.dbapi_connection
        if db.get_bind().dialect.name == "postgresql":
            from psycopg.pq import TransactionStatus

            return driver.info.transaction_status != TransactionStatus.IDLE
        return driver.in_transaction

    def view():
        db = get_db()
        assert db.get(Location, location.id).name == "Old name"
        seen["after the read"] = transaction_open(db)
        with unit_of_work(db):
            db.get(Location, location.id).name = "Written"
        seen["after the write"] = transaction_open(db)
        return "ok"

    app.add_url_rule("/test/read-then-write", "read_then_write", view, methods=["POST"])
    response = client.post("/test/read-then-write", data={"csrf_token": auth.csrf()})

    assert response.status_code == 200
    postgres = app.extensions["landdesk_db"].engine.dialect.name == "postgresql"
    assert seen == {"after the read": not postgres, "after the write": True}
    assert _location_name(app, location.id) == "Written"
