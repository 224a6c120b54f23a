"""Per-booking offline PINs and their revocation on the doors.

Each confirmed booking gets its own PIN key: its window (start slot, slots)
and an index that no other PIN with that window at the location has, kept in
``door_pins`` so a key is never given twice, not even after its revocation.
A PIN is withdrawn when its booking is cancelled (``revoke_booking_pins``,
called in the cancelling transaction) and, by ``sync_revocations``, when its
holder is suspended, the location or desk is closed that day, or the
booking's window changed. Each Landdesk door of the location then gets a
signed list of every withdrawn PIN whose window has not ended, published
retained on ``{prefix}/doors/{door}/revoked``: an online controller applies
it within a round trip, an offline one when it reconnects.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from flask import Flask, current_app
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices.messages import topic
from devices.pins import PIN_INDEXES, PIN_SLOT_S, make_revocations, pin_window

from ..bookings.models import Booking, BookingStatus
from ..db import on_commit, unit_of_work, utcnow
from ..passes.models import Standing
from ..passes.services import member_standing
from ..spaces.models import Closure
from .doors import DoorUnavailable, door_secret, doors_of, pin_span
from .link import get_link
from .models import DoorKind, DoorPin

log = logging.getLogger(__name__)


def _window(booking: Booking) -> tuple[int, int]:
    return pin_window(*pin_span(booking.starts_at, booking.ends_at))


def issue_pin(db: Session, booking: Booking, now: datetime) -> DoorPin | None:
    """The booking's PIN key, issued on first use; None on a closed day, or if
    all 100 indexes of its window are taken at the location (the app still
    opens the door then)."""
    if _closed(db, booking):
        return None
    start_slot, slots = _window(booking)
    for _attempt in range(3):
        with unit_of_work(db):
            live = list(
                db.scalars(
                    select(DoorPin).where(
                        DoorPin.booking_id == booking.id, DoorPin.revoked_at.is_(None)
                    )
                )
            )
            for pin in live:
                if (pin.start_slot, pin.slots) == (start_slot, slots):
                    return pin
                # The booking (or the access margin) moved: the old PIN goes.
                _revoke(db, pin, "changed", now)
            taken = set(
                db.scalars(
                    select(DoorPin.pin_index).where(
                        DoorPin.location_id == booking.location_id,
                        DoorPin.start_slot == start_slot,
                        DoorPin.slots == slots,
                    )
                )
            )
            index = next((i for i in range(PIN_INDEXES) if i not in taken), None)
            if index is None:
                log.warning("no free PIN index for booking %s", booking.id)
                return None
            pin = DoorPin(
                booking_id=booking.id,
                location_id=booking.location_id,
                start_slot=start_slot,
                slots=slots,
                pin_index=index,
                ends_at=datetime.fromtimestamp((start_slot + slots) * PIN_SLOT_S, UTC),
                issued_at=now,
            )
            try:
                with db.begin_nested():
                    db.add(pin)
            except IntegrityError:
                continue  # another request took this index a moment ago
            return pin
    return None


def _revoke(db: Session, pin: DoorPin, reason: str, now: datetime) -> None:
    pin.revoked_at = now
    pin.revoked_reason = reason
    location_id = pin.location_id
    app = current_app._get_current_object()
    on_commit(db, lambda: publish_revocations(app, db, location_id))


def revoke_booking_pins(db: Session, booking: Booking, reason: str) -> None:
    """Withdraw the booking's PIN (inside the caller's unit of work); the
    doors hear of it after the commit."""
    revoked = db.execute(
        update(DoorPin)
        .where(DoorPin.booking_id == booking.id, DoorPin.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if revoked:
        location_id = booking.location_id
        app = current_app._get_current_object()
        on_commit(db, lambda: publish_revocations(app, db, location_id))


def on_booking_released(booking: Booking, *, db: Session, **_) -> None:
    """``events.booking_released``: a live booking is cancelled in this unit."""
    revoke_booking_pins(db, booking, "cancelled")


def _closed(db: Session, booking: Booking) -> bool:
    return bool(
        db.scalar(
            select(
                exists().where(
                    Closure.location_id == booking.location_id,
                    or_(
                        Closure.resource_id.is_(None),
                        Closure.resource_id == booking.resource_id,
                    ),
                    Closure.starts_on <= booking.booked_on,
                    Closure.ends_on >= booking.booked_on,
                )
            )
        )
    )


def sync_revocations(db: Session, now: datetime | None = None) -> set[int]:
    """Withdraw every live PIN that no longer opens anything; return the
    locations whose lists changed (the caller publishes them)."""
    now = now or utcnow()
    # Read first, outside a unit of work: on SQLite a unit of work takes the
    # writer lock, and most sweeps find nothing to write.
    rows = db.execute(
        select(DoorPin, Booking)
        .outerjoin(Booking, DoorPin.booking_id == Booking.id)
        .where(DoorPin.revoked_at.is_(None), DoorPin.ends_at > now)
    ).all()
    standing: dict[int, Standing] = {}
    withdraw: dict[int, str] = {}
    for pin, booking in rows:
        reason = None
        if booking is None:
            reason = "gone"
        elif booking.status != BookingStatus.CONFIRMED:
            reason = "cancelled"
        elif _window(booking) != (pin.start_slot, pin.slots):
            reason = "changed"
        elif _closed(db, booking):
            reason = "closed"
        else:
            if booking.user_id not in standing:
                standing[booking.user_id] = member_standing(db, booking.user, now)
            if standing[booking.user_id] == Standing.SUSPENDED:
                reason = "suspended"
        if reason is not None:
            withdraw[pin.id] = reason
    db.commit()  # end the read transaction
    if not withdraw:
        return set()
    changed: set[int] = set()
    with unit_of_work(db):
        for pin in db.scalars(
            select(DoorPin).where(
                DoorPin.id.in_(list(withdraw)), DoorPin.revoked_at.is_(None)
            )
        ):
            pin.revoked_at = now
            pin.revoked_reason = withdraw[pin.id]
            changed.add(pin.location_id)
    return changed


def revoked_keys(
    db: Session, location_id: int, now: datetime
) -> list[tuple[int, int, int]]:
    """(start slot, slots, index) of the location's withdrawn PINs still in
    their window."""
    return [
        (row.start_slot, row.slots, row.pin_index)
        for row in db.execute(
            select(DoorPin.start_slot, DoorPin.slots, DoorPin.pin_index).where(
                DoorPin.location_id == location_id,
                DoorPin.revoked_at.is_not(None),
                DoorPin.ends_at > now,
            )
        )
    ]


def locations_with_revocations(db: Session, now: datetime | None = None) -> set[int]:
    now = now or utcnow()
    return set(
        db.scalars(
            select(DoorPin.location_id)
            .where(DoorPin.revoked_at.is_not(None), DoorPin.ends_at > now)
            .distinct()
        )
    )


def publish_revocations(app: Flask, db: Session, location_id: int) -> int:
    """Publish the current list to each Landdesk door of the location
    (retained); return how many doors got it. Without a broker connection
    nothing is sent: the listener publishes again after it reconnects."""
    link = get_link(app)
    if link is None:
        return 0
    now = utcnow()
    keys = revoked_keys(db, location_id, now)
    prefix = app.config.get("MQTT_PREFIX", "landdesk")
    sent = 0
    for door in doors_of(db, location_id):
        if door.kind != DoorKind.LANDDESK or door.secret_enc is None:
            continue
        try:
            secret = door_secret(door)
        except DoorUnavailable:
            continue
        message = make_revocations(door.mqtt_id, secret, keys, now=now.timestamp())
        if link.publish_retained(
            topic(prefix, door.mqtt_id, "revoked"), message.to_json()
        ):
            sent += 1
    db.commit()  # end the read transaction
    return sent


class RevocationSweeper:
    """What ``flask doors listen`` runs every few seconds: withdraw PINs that
    no longer open anything (suspension, closure, a booking cancelled by any
    path) and keep each door's retained list current. Every list is published
    again after each reconnect of the link and once a minute, because two
    processes may publish lists computed a moment apart, and the broker
    keeps whichever came last."""

    def __init__(self, app: Flask, republish_s: float = 60.0) -> None:
        self.app = app
        self.republish_s = republish_s
        self._connections = -1
        self._last_full = 0.0

    def run_once(self, db: Session) -> int:
        """One pass; returns how many locations' lists were published."""
        changed = sync_revocations(db)
        link = get_link(self.app)
        if link is None:
            return 0
        targets = set(changed)
        full = (
            link.connections != self._connections
            or time.monotonic() - self._last_full >= self.republish_s
        )
        if full and link.connected.is_set():
            targets |= locations_with_revocations(db)
            self._connections = link.connections
            self._last_full = time.monotonic()
        db.commit()
        for location_id in sorted(targets):
            publish_revocations(self.app, db, location_id)
        return len(targets)
