"""Storing what doors report: a state that says nothing new is not written."""

from __future__ import annotations

import time

from booking.access.models import Door
from booking.access.mqtt import Report
from booking.access.reports import store_report
from devices import messages


def state(door_id: str, secret: str, *, ts: float, is_open: bool) -> Report:
    payload = messages.make_state(
        door_id,
        secret,
        status="online",
        open=is_open,
        battery=80,
        fw=messages.FIRMWARE,
        now=ts,
    ).to_json()
    return Report("state", door_id, payload.encode(), received_at=ts)


def test_a_repeated_state_is_not_written_a_changed_or_late_one_is(app, db, door):
    door_row, secret = door
    door_id = str(door_row.id)
    now = time.time()
    with app.app_context():
        store_report(db, state(door_id, secret, ts=now, is_open=False))
        db.expire_all()
        first = db.get(Door, door_row.id).last_seen_at
        assert first is not None
        # The same state 10 s later: nothing to write, last seen stays.
        store_report(db, state(door_id, secret, ts=now + 10, is_open=False))
        db.expire_all()
        assert db.get(Door, door_row.id).last_seen_at == first
        # The door opened: written.
        store_report(db, state(door_id, secret, ts=now + 20, is_open=True))
        db.expire_all()
        row = db.get(Door, door_row.id)
        assert row.is_open is True and row.last_seen_at > first
        # The same again after more than a minute: last seen moves.
        seen = row.last_seen_at
        store_report(db, state(door_id, secret, ts=now + 100, is_open=True))
        db.expire_all()
        assert db.get(Door, door_row.id).last_seen_at > seen
