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
