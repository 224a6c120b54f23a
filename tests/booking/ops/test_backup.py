"""backup FILE / restore FILE: a round trip keeps bookings, money and the door log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from booking.db import get_db


def _fill(db, create_user, create_location, create_resource):
    from booking.access.models import AccessEvent
    from booking.access.services import create_door
    from booking.billing.models import Order, Payment
    from booking.bookings.models import Booking

    member = create_user("jana@example.org")
    location = create_location()
    desk = create_resource(location)
    door, _secret = create_door(
        db, location.operators[0], location.id, {"name": "Entrance", "kind": "landdesk"}
    )
    day = date.today() + timedelta(days=3)
    starts = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    booking = Booking(
        user_id=member.id,
        resource_id=desk.id,
        location_id=location.id,
        seat=0,
        starts_at=starts,
        ends_at=starts + timedelta(hours=9),
        booked_on=day,
        part="full",
        status="confirmed",
    )
    db.add(booking)
    db.flush()
    order = Order(
        kind="booking",
        user_id=member.id,
        booking_id=booking.id,
        location_id=location.id,
        description="Day desk",
        amount_cents=1500,
        status="paid",
    )
    db.add(order)
    db.flush()
    db.add(
        Payment(
            order_id=order.id,
            status="succeeded",
            amount_cents=1500,
            stripe_payment_intent_id="pi_backup_1",
        )
    )
    db.add(
        AccessEvent(
            door_id=door.id,
            location_id=location.id,
            user_id=member.id,
            booking_id=booking.id,
            channel="app",
            result="opened",
            event_id="evt-backup-1",
        )
    )
    db.commit()


def _snapshot() -> dict:
    from booking.access.models import AccessEvent
    from booking.billing.models import Payment
    from booking.bookings.models import Booking

    # A fresh session each time: a restore ends the sessions open before it.
    db = get_db()
    snapshot = {
        "bookings": db.execute(
            select(Booking.id, Booking.user_id, Booking.starts_at, Booking.status)
        ).all(),
        "payments": db.execute(
            select(Payment.id, Payment.amount_cents, Payment.stripe_payment_intent_id)
        ).all(),
        "door_log": db.execute(
            select(AccessEvent.id, AccessEvent.result, AccessEvent.event_id)
        ).all(),
    }
    db.close()
    return snapshot


def _wipe(app) -> None:
    from tests.conftest import _empty_tables

    _empty_tables(app)


def test_backup_and_restore_round_trip(
    app, db, create_user, create_location, create_resource, tmp_path
):
    _fill(db, create_user, create_location, create_resource)
    before = _snapshot()
    assert all(len(rows) == 1 for rows in before.values())
    runner = app.test_cli_runner()
    file = tmp_path / "landdesk.backup"
    result = runner.invoke(args=["backup", str(file)])
    assert result.exit_code == 0, result.output
    assert file.stat().st_size > 0

    # A database with data is not overwritten by accident.
    refused = runner.invoke(args=["restore", str(file)])
    assert refused.exit_code != 0
    assert "holds data" in refused.output

    _wipe(app)
    assert _snapshot() == {"bookings": [], "payments": [], "door_log": []}
    restored = runner.invoke(args=["restore", str(file)])
    assert restored.exit_code == 0, restored.output
    assert _snapshot() == before
    # And the restored database works: the service writes to it again.
    from booking.auth.services import authenticate

    db = get_db()
    assert authenticate(db, "jana@example.org", "password123") is not None
    db.close()


def test_restore_with_force_replaces_data(
    app, db, create_user, create_location, create_resource, tmp_path
):
    _fill(db, create_user, create_location, create_resource)
    before = _snapshot()
    file = tmp_path / "landdesk.backup"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", str(file)]).exit_code == 0
    create_user("later@example.org")
    result = runner.invoke(args=["restore", "--force", str(file)])
    assert result.exit_code == 0, result.output
    assert _snapshot() == before
    from booking.auth.models import User

    db = get_db()
    assert db.scalar(select(func.count()).select_from(User)) == 2
    db.close()


def test_restore_refuses_what_is_not_a_backup(app, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list")
    result = app.test_cli_runner().invoke(args=["restore", str(junk)])
    assert result.exit_code != 0
    assert "is not a backup" in result.output
    missing = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "cannot read" in missing.output
