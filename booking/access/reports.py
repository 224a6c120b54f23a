"""What doors report: state, events and vendor status, stored idempotently,
and the alerts they raise (console and e-mail to the operators).

``store_report`` runs in the MQTT link's worker thread (access.mqtt), never in
paho's network thread.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devices import messages
from devices.messages import MessageRejected
from devices.pins import PIN_SLOT_S

from ..auth.models import Role, User
from ..bookings.models import Booking
from ..checkin.services import record_door_entry
from ..db import unit_of_work, utcnow
from ..errors import NotFound
from ..outbox import queue_mail
from ..spaces.models import Location
from ..spaces.services import managed_location_ids
from ..validation import MAX_ID, is_digits
from .doors import DoorUnavailable, door_secret, get_managed_door
from .models import (
    AccessEvent,
    AlertKind,
    Channel,
    Door,
    DoorAlert,
    DoorKind,
    DoorPin,
    Result,
)
from .mqtt import Report

log = logging.getLogger(__name__)

BATTERY_LOW_PERCENT = 20
# Wrong PINs within this window that raise an alert (besides a lock-out).
PIN_ALERT_COUNT = 3
PIN_ALERT_WINDOW = timedelta(minutes=15)
# A state message that changes nothing moves last_seen_at only after this long.
LAST_SEEN_PRECISION = timedelta(seconds=60)


def _add_event(db: Session, door: Door, **values: Any) -> AccessEvent:
    event = AccessEvent.for_door(door, **values)
    db.add(event)
    return event


# --- what doors report ---------------------------------------------------------


def _ts(value: int | None, fallback: datetime) -> datetime:
    if value is None:
        return fallback
    return datetime.fromtimestamp(value, UTC)


def store_report(db: Session, report: Report) -> None:
    """Store one state, event or vendor status message (idempotent)."""
    now = datetime.fromtimestamp(report.received_at, UTC)
    if report.kind == "vendor":
        _store_vendor_status(db, report, now)
        return
    if not is_digits(report.door) or int(report.door) > MAX_ID:
        return
    door = db.get(Door, int(report.door))
    if door is None or door.kind != DoorKind.LANDDESK:
        return
    try:
        secret = door_secret(door)
        if report.kind == "state":
            state = messages.parse_state(report.payload, secret)
            if state.door == report.door:
                _store_state(db, door, state, now, retained=report.retained)
        elif report.kind == "event":
            event = messages.parse_event(report.payload, secret, door_id=report.door)
            _store_event(db, door, event, now)
    except (MessageRejected, DoorUnavailable) as exc:
        log.warning("door %s sent an unusable %s: %s", door.id, report.kind, exc)
        db.rollback()


def _set_online(db: Session, door: Door, online: bool, at: datetime) -> bool:
    """Record a change of reachability; True if this call made the change.

    A conditional UPDATE, so that of several processes seeing the same
    message exactly one raises (or resolves) the alert.
    """
    condition = (
        Door.online.is_(True)
        if not online
        else or_(Door.online.is_(None), Door.online.is_(False))
    )
    changed = db.execute(
        update(Door)
        .where(Door.id == door.id, condition)
        .values(online=online, online_since=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.refresh(door)
    return bool(changed)


def _store_state(
    db: Session,
    door: Door,
    state: messages.DoorState,
    now: datetime,
    *,
    retained: bool,
) -> None:
    online = state.status == "online"
    if (
        not state.is_will
        and door.online is online
        and (door.is_open, door.battery, door.firmware)
        == (state.open, state.battery, state.fw)
        and door.last_seen_at is not None
        and _ts(state.ts, now) - door.last_seen_at < LAST_SEEN_PRECISION
    ):
        # Nothing new: every process gets each state message, and a door
        # repeats what its events (stored a moment earlier) said. Skipping
        # the write keeps the unlock's audit write from queueing behind it.
        return
    with unit_of_work(db):
        was_online = door.online
        at = now if state.is_will or not retained else _ts(state.ts, now)
        changed = _set_online(db, door, online, at)
        if not state.is_will:
            seen = _ts(state.ts, now)
            if door.last_seen_at is None or seen > door.last_seen_at:
                door.last_seen_at = seen
            door.is_open = state.open
            door.battery = state.battery
            door.firmware = state.fw
        if changed:
            _add_event(
                db,
                door,
                channel=Channel.DEVICE,
                result=Result.EVENT,
                event_type="online" if online else "offline",
                occurred_at=at,
            )
            if online:
                _resolve_alert(db, door, AlertKind.OFFLINE, now)
            elif was_online:
                _raise_alert(db, door, AlertKind.OFFLINE, now)
        _check_battery(db, door, state.battery, None, now)


def _check_battery(
    db: Session, door: Door, level: int | None, low: bool | None, now: datetime
) -> None:
    if low is None and level is not None:
        low = level <= BATTERY_LOW_PERCENT
    if low:
        _raise_alert(db, door, AlertKind.BATTERY_LOW, now, level=level)
    elif low is False:
        _resolve_alert(db, door, AlertKind.BATTERY_LOW, now)


_EVENT_RESULTS = {
    "pin_accepted": (Channel.PIN, Result.PIN_ACCEPTED),
    "pin_refused": (Channel.PIN, Result.PIN_REFUSED),
    "pin_locked_out": (Channel.PIN, Result.PIN_LOCKED_OUT),
}


def _pin_holder(
    db: Session, door: Door, window: tuple[int, ...] | None
) -> Booking | None:
    """The booking whose offline PIN has this window and index, if any (also
    a cancelled one: a refused revoked PIN names its holder)."""
    if window is None or len(window) != 3:
        return None
    start, end, index = window
    booking_id = db.scalar(
        select(DoorPin.booking_id).where(
            DoorPin.location_id == door.location_id,
            DoorPin.start_slot == start // PIN_SLOT_S,
            DoorPin.slots == (end - start) // PIN_SLOT_S,
            DoorPin.pin_index == index,
        )
    )
    return db.get(Booking, booking_id) if booking_id is not None else None


def _store_event(db: Session, door: Door, event: messages.Event, now: datetime) -> None:
    with unit_of_work(db):
        if db.scalar(select(AccessEvent.id).where(AccessEvent.event_id == event.id)):
            return  # a redelivery, or a re-send after the door reconnected
        channel, result = _EVENT_RESULTS.get(event.type, (Channel.DEVICE, Result.EVENT))
        holder = (
            _pin_holder(db, door, event.window)
            if event.type in ("pin_accepted", "pin_refused")
            else None
        )
        reason = event.reason
        if event.window is not None and reason is None:
            reason = f"window {event.window[0]}-{event.window[1]}"
        at = _ts(event.ts, now)
        try:
            with db.begin_nested():
                _add_event(
                    db,
                    door,
                    user_id=holder.user_id if holder else None,
                    booking_id=holder.id if holder else None,
                    channel=channel,
                    result=result,
                    event_type=event.type,
                    reason=(reason or "")[:200] or None,
                    command_id=event.cmd,
                    event_id=event.id,
                    offline=event.offline,
                    occurred_at=at,
                )
        except IntegrityError:
            return  # another process stored it a moment ago
        if event.type == "pin_accepted" and holder is not None:
            # Coming in by PIN counts as checking in, as opening by app does,
            # so the no-show release leaves the booking alone.
            record_door_entry(
                db, holder.user_id, door.location_id, at=at, booking_id=holder.id
            )
        door.last_seen_at = max(door.last_seen_at or at, now)
        if event.type in ("opened", "closed"):
            door.is_open = event.type == "opened"
        if event.type == "closed":
            _resolve_alert(db, door, AlertKind.HELD_OPEN, now)
        elif event.type == "held_open":
            _raise_alert(db, door, AlertKind.HELD_OPEN, now)
        elif event.type == "tamper":
            _raise_alert(db, door, AlertKind.TAMPER, now, detail=event.reason or "")
        elif event.type == "pin_locked_out":
            _raise_alert(db, door, AlertKind.PIN_FAILURES, now)
        elif event.type == "pin_refused" and event.reason == "wrong":
            wrong = db.scalar(
                select(func.count(AccessEvent.id)).where(
                    AccessEvent.door_id == door.id,
                    AccessEvent.result == Result.PIN_REFUSED,
                    AccessEvent.reason == "wrong",
                    AccessEvent.occurred_at >= at - PIN_ALERT_WINDOW,
                )
            )
            if wrong >= PIN_ALERT_COUNT:
                _raise_alert(db, door, AlertKind.PIN_FAILURES, now)


def _store_vendor_status(db: Session, report: Report, now: datetime) -> None:
    status = report.status
    if status is None:
        return
    door = db.scalar(
        select(Door).where(Door.kind == report.vendor, Door.device_id == report.door)
    )
    if door is None:
        return
    with unit_of_work(db):
        if status.online is not None:
            was_online = door.online
            if _set_online(db, door, status.online, now):
                _add_event(
                    db,
                    door,
                    channel=Channel.DEVICE,
                    result=Result.EVENT,
                    event_type="online" if status.online else "offline",
                    occurred_at=now,
                )
                if status.online:
                    _resolve_alert(db, door, AlertKind.OFFLINE, now)
                elif was_online:
                    _raise_alert(db, door, AlertKind.OFFLINE, now)
        if status.online is not False and not report.retained:
            door.last_seen_at = now
        if status.open is not None:
            door.is_open = status.open
        if status.battery is not None:
            door.battery = status.battery
        _check_battery(db, door, status.battery, status.battery_low, now)


# --- alerts --------------------------------------------------------------------

_ALERT_TEXT = {
    AlertKind.OFFLINE: _l("Door %(door)s at %(location)s is offline."),
    AlertKind.BATTERY_LOW: _l("The battery of door %(door)s at %(location)s is low."),
    AlertKind.HELD_OPEN: _l("Door %(door)s at %(location)s stays open too long."),
    AlertKind.PIN_FAILURES: _l(
        "Wrong PINs are being entered at door %(door)s at %(location)s."
    ),
    AlertKind.TAMPER: _l("Door %(door)s at %(location)s reports tampering."),
}


def alert_text(alert: DoorAlert) -> str:
    return str(
        _ALERT_TEXT[AlertKind(alert.kind)]
        % {"door": alert.door.name, "location": alert.door.location.name}
    )


def _raise_alert(
    db: Session, door: Door, kind: AlertKind, now: datetime, **details: Any
) -> None:
    open_alert = db.scalar(
        select(DoorAlert.id).where(
            DoorAlert.door_id == door.id,
            DoorAlert.kind == kind,
            DoorAlert.resolved_at.is_(None),
        )
    )
    if open_alert is not None:
        return
    detail = ", ".join(f"{k}={v}" for k, v in details.items() if v not in (None, ""))
    alert = DoorAlert(door_id=door.id, kind=kind, message=detail[:300], raised_at=now)
    db.add(alert)
    db.flush()
    _mail_alert(db, alert)


def _resolve_alert(db: Session, door: Door, kind: AlertKind, now: datetime) -> None:
    db.execute(
        update(DoorAlert)
        .where(
            DoorAlert.door_id == door.id,
            DoorAlert.kind == kind,
            DoorAlert.resolved_at.is_(None),
        )
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


def _alert_recipients(db: Session, location: Location) -> list[User]:
    if location.operators:
        return list(location.operators)
    return list(db.scalars(select(User).where(User.role == Role.ADMIN)))


def _mail_alert(db: Session, alert: DoorAlert) -> None:
    """Queue the alert's mail to each operator, in their language, in the unit
    that raised it: durable and retried, sent after the commit (booking.outbox)."""
    for user in _alert_recipients(db, alert.door.location):
        locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
        with force_locale(locale):
            text = alert_text(alert)
            body = render_template(
                "access/alert_email.txt",
                alert=alert,
                text=text,
                public_url=current_app.config["PUBLIC_URL"],
            )
        queue_mail(
            db,
            f"door_alert:{alert.id}:{user.id}",
            user.email,
            text,
            body,
            user_id=user.id,
        )


def open_alerts(db: Session, actor: User, location_id: int | None = None) -> list:
    ids = managed_location_ids(db, actor)
    query = (
        select(DoorAlert)
        .join(Door, DoorAlert.door_id == Door.id)
        .where(DoorAlert.resolved_at.is_(None))
    )
    if ids is not None:
        query = query.where(Door.location_id.in_(ids))
    if location_id is not None:
        query = query.where(Door.location_id == location_id)
    return list(db.scalars(query.order_by(DoorAlert.raised_at.desc()).limit(100)))


def resolve_alert(db: Session, actor: User, alert_id: int) -> None:
    """An operator marks an alert as handled. Raises NotFound, Forbidden."""
    with unit_of_work(db):
        alert = db.get(DoorAlert, alert_id)
        if alert is None:
            raise NotFound()
        get_managed_door(db, actor, alert.door_id)
        if alert.resolved_at is None:
            alert.resolved_at = utcnow()
