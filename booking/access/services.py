"""Doors, unlocking, the audit log, offline PINs and alerts.

The unlock itself (``unlock_door``) checks the access rule, releases the
database connection, waits for the door's answer over MQTT (access.mqtt) and
then writes one audit row. What doors report is stored by access.reports; the
audit log is read through access.audit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from devices import messages
from devices.pins import PIN_SLOT_S, offline_pin

from .. import events
from ..auth.models import User
from ..bookings.models import Booking, BookingStatus
from ..checkin.services import record_door_entry
from ..db import persistent, unit_of_work, utcnow
from ..errors import DomainError, Forbidden, InvalidInput
from ..i18n import localdatetime
from ..passes import fixed_desks
from ..passes import services as passes_services
from ..spaces.models import Location, Resource
from ..spaces.services import can_manage, get_managed_location
from . import rules
from .crypto import seal
from .doors import (
    DoorUnavailable,
    access_margin,
    app_secret_key,
    door_secret,
    doors_of,
    get_door,
    get_managed_door,
)
from .link import get_link
from .models import (
    AccessEvent,
    Channel,
    Door,
    DoorKind,
    DoorPin,
    Result,
)
from .mqtt import Outcome
from .pins import issue_pin

log = logging.getLogger(__name__)

DEFAULT_ACK_TIMEOUT_S = 3.0


class AccessDenied(Forbidden):
    code = "access_denied"


class DoorRefused(DomainError):
    status = 502
    code = "door_refused"
    default_message = _l("The door refused to open.")


class DoorTimeout(DomainError):
    status = 504
    code = "door_timeout"
    default_message = _l(
        "The door did not answer in time. Please try again or use your PIN."
    )


_DENIED_MESSAGES = {
    rules.DOOR_INACTIVE: _l("This door is switched off."),
    rules.SUSPENDED: _l(
        "Your membership is suspended: the door stays closed until the "
        "payment is settled."
    ),
    rules.NO_BOOKING: _l("You have no booking that opens this door now."),
}


# --- configuration -------------------------------------------------------------


def ack_timeout_s() -> float:
    return float(current_app.config.get("UNLOCK_TIMEOUT_S", DEFAULT_ACK_TIMEOUT_S))


# --- doors ---------------------------------------------------------------------


def _clean_door_values(db: Session, location: Location, values: dict) -> dict:
    name = values.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(_l("Give the door a name."), field="name")
    if len(name.strip()) > 120:
        raise InvalidInput(_l("At most %(n)d characters.", n=120), field="name")
    try:
        kind = DoorKind(values.get("kind") or DoorKind.LANDDESK)
    except ValueError:
        raise InvalidInput(
            _l("The kind must be landdesk, shelly, tasmota or nuki."), field="kind"
        ) from None
    device_id = values.get("device_id")
    device_id = device_id.strip() if isinstance(device_id, str) else None
    if kind == DoorKind.LANDDESK:
        device_id = None
    else:
        if not device_id:
            raise InvalidInput(
                _l("Enter the device's MQTT topic or id."), field="device_id"
            )
        if (
            len(device_id) > 64
            or device_id.isdigit()
            or any(ch in device_id for ch in "/+#\x00 ")
        ):
            raise InvalidInput(
                _l(
                    "The device id must be one MQTT topic level (no / + # or "
                    "spaces) and not only digits."
                ),
                field="device_id",
            )
    open_s = values.get("open_s", 5)
    try:
        open_s = int(open_s)
    except (TypeError, ValueError):
        open_s = 0
    if not 1 <= open_s <= messages.MAX_OPEN_S:
        raise InvalidInput(
            _l("Open for 1 to %(n)d seconds.", n=messages.MAX_OPEN_S), field="open_s"
        )
    ids = values.get("resource_ids") or []
    if not isinstance(ids, list):
        raise InvalidInput(_l("resource_ids must be a list."), field="resource_ids")
    try:
        ids = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        raise InvalidInput(
            _l("resource_ids must be numbers."), field="resource_ids"
        ) from None
    resources = (
        list(
            db.scalars(
                select(Resource).where(
                    Resource.id.in_(ids), Resource.location_id == location.id
                )
            )
        )
        if ids
        else []
    )
    if len(resources) != len(ids):
        raise InvalidInput(
            _l("Choose desks and rooms of this location."), field="resource_ids"
        )
    return {
        "name": name.strip(),
        "kind": kind,
        "device_id": device_id,
        "open_s": open_s,
        "resources": resources,
    }


def create_door(
    db: Session, actor: User, location_id: int, values: dict
) -> tuple[Door, str | None]:
    """Add a door to a location the actor runs; returns it and, for our own
    controller, its new secret (shown once). Raises NotFound, Forbidden,
    InvalidInput."""
    with unit_of_work(db):
        location = get_managed_location(db, actor, location_id)
        cleaned = _clean_door_values(db, location, values)
        door = Door(location_id=location.id, is_active=True, **cleaned)
        db.add(door)
        db.flush()
        secret = None
        if door.kind == DoorKind.LANDDESK:
            secret = messages.new_secret()
            door.secret_enc = seal(secret, app_secret_key(), door_id=door.id)
            door.secret_rotated_at = utcnow()
    return door, secret


def update_door(db: Session, actor: User, door_id: int, values: dict) -> Door:
    """Rename, re-assign resources, change the opening time or switch off."""
    with unit_of_work(db):
        door = get_managed_door(db, actor, door_id)
        merged = {
            "name": door.name,
            "kind": door.kind,
            "device_id": door.device_id,
            "open_s": door.open_s,
            "resource_ids": [r.id for r in door.resources],
            **{k: v for k, v in values.items() if k != "kind"},
        }
        cleaned = _clean_door_values(db, door.location, merged)
        door.name = cleaned["name"]
        door.device_id = cleaned["device_id"]
        door.open_s = cleaned["open_s"]
        door.resources = cleaned["resources"]
        if "is_active" in values:
            door.is_active = bool(values["is_active"])
    return door


def rotate_secret(db: Session, actor: User, door_id: int) -> tuple[Door, str]:
    """A new secret for our controller; the old one stops working at once.

    Raises NotFound, Forbidden, InvalidInput (vendor doors have no secret).
    """
    with unit_of_work(db):
        door = get_managed_door(db, actor, door_id)
        if door.kind != DoorKind.LANDDESK:
            raise InvalidInput(_l("Only Landdesk controllers have a secret."))
        secret = messages.new_secret()
        door.secret_enc = seal(secret, app_secret_key(), door_id=door.id)
        door.secret_rotated_at = utcnow()
    return door, secret


# --- the rule ------------------------------------------------------------------


_b = Booking.__table__.c
# Plain Core on the table (the ORM's statement handling left out), built
# once: building a statement costs more than running it.
_LIVE_BOOKINGS = select(_b.id, _b.starts_at, _b.ends_at).where(
    _b.user_id == bindparam("user_id"),
    _b.location_id == bindparam("location_id"),
    _b.status == BookingStatus.CONFIRMED,
    _b.ends_at > bindparam("now"),
    _b.starts_at < bindparam("day_ahead"),
)
# The same, for a door that serves some resources only.
_LIVE_BOOKINGS_SERVED = _LIVE_BOOKINGS.where(
    _b.resource_id.in_(bindparam("resource_ids", expanding=True))
)


def access_facts(
    db: Session, user: User, door: Door, now: datetime
) -> rules.AccessFacts:
    """Everything the access rule needs to know, read from the database.

    The person's passes are read once for standing, 24/7, day passes and
    fixed desk, and what the rule decides before it looks at bookings
    (a switched-off door, an operator, a suspension, 24/7) is not read on.
    """
    if not door.is_active:
        return rules.AccessFacts(False, False, "none", False, ())
    if can_manage(db, user, door.location_id):
        return rules.AccessFacts(True, True, "none", False, ())
    passes = passes_services.usable_passes(db, user)
    standing = str(passes_services.standing_among(passes, now))
    has_24_7 = passes_services.grants_24_7(passes, door.location_id, now)
    if standing == "suspended" or has_24_7:
        return rules.AccessFacts(True, False, standing, has_24_7, ())
    ids = [r.id for r in door.resources]
    params = {
        "user_id": user.id,
        "location_id": door.location_id,
        "now": now,
        "day_ahead": now + timedelta(days=1),
    }
    if ids:
        params["resource_ids"] = ids
    query = _LIVE_BOOKINGS_SERVED if ids else _LIVE_BOOKINGS
    bookings = tuple(rules.LiveBooking(*row) for row in db.execute(query, params))
    day_passes = fixed_desk = ()
    if not door.resources or any(r.is_day_bookable for r in door.resources):
        # The entrance or the desk area; a meeting room's own door wants a
        # booking of that room.
        day_passes = tuple(
            rules.LiveBooking(*window)
            for window in passes_services.day_pass_windows_among(
                passes, user, door.location, now
            )
        )
        fixed_desk = tuple(
            rules.LiveBooking(*window)
            for window in fixed_desks.fixed_desk_windows(
                db, user, door.location, now, among=passes
            )
        )
    return rules.AccessFacts(
        True, False, standing, has_24_7, bookings, day_passes, fixed_desk
    )


def check_access(
    db: Session, user: User, door: Door, now: datetime | None = None
) -> rules.Decision:
    now = now or utcnow()
    return rules.decide(access_facts(db, user, door, now), now, access_margin())


def _denied_message(decision: rules.Decision, door: Door) -> Any:
    if decision.reason == rules.TOO_EARLY and decision.opens_at is not None:
        return _l(
            "Your booking opens this door from %(time)s.",
            time=localdatetime(decision.opens_at, door.location.timezone, "short"),
        )
    return _DENIED_MESSAGES.get(decision.reason, _l("You may not open this door."))


# --- unlocking -----------------------------------------------------------------


_EVENT_COLUMNS = tuple(
    c.key for c in AccessEvent.__table__.c if c.key not in ("id", "recorded_at")
)
# Built once, in Core: the ORM's flush was a good part of an unlock's CPU.
_INSERT_EVENT = (
    insert(AccessEvent.__table__)
    .values({key: bindparam(key) for key in (*_EVENT_COLUMNS, "recorded_at")})
    .returning(AccessEvent.__table__.c.id)
)


def _add_event(
    db: Session, door: Door, *, wait_s: float | None = None, **values: Any
) -> AccessEvent:
    row = {key: None for key in _EVENT_COLUMNS}
    row.update(door_id=door.id, location_id=door.location_id, offline=False)
    row.update(values)
    row["recorded_at"] = utcnow()
    if row["occurred_at"] is None:
        row["occurred_at"] = row["recorded_at"]
    event_id = db.scalar(_INSERT_EVENT, row)
    # The session's object of the new row, without a query.
    event = persistent(db, AccessEvent(id=event_id, **row))
    # Every unlock attempt is audited here; metrics count it once committed.
    events.send_after_commit(db, events.unlock_audited, event, wait_s=wait_s)
    return event


@dataclass(frozen=True)
class UnlockResult:
    door: Door
    event: AccessEvent


def unlock_door(
    db: Session,
    actor: User,
    door_id: int,
    *,
    remote: bool = False,
    now: datetime | None = None,
) -> UnlockResult:
    """Open a door for the actor if the access rule allows it.

    ``remote``: an operator opens from the console (for someone at the door).
    Every attempt is written to the audit log. Raises NotFound, Forbidden
    (AccessDenied with ``reason``), DoorRefused (502), DoorUnavailable (503),
    DoorTimeout (504).
    """
    now = now or utcnow()
    door = get_door(db, door_id)
    if remote:
        if not can_manage(db, actor, door.location_id):
            raise Forbidden(_l("You do not run this location."))
        channel = Channel.REMOTE
    decision = check_access(db, actor, door, now)
    if not remote:
        channel = Channel.OPERATOR if decision.reason == rules.OPERATOR else Channel.APP
    if not decision.allowed:
        # Durable: the refusal stays in the audit log although the request
        # answers with an error (which rolls back what a request wrote).
        with unit_of_work(db, durable=True):
            _add_event(
                db,
                door,
                user_id=actor.id,
                booking_id=decision.booking_id,
                channel=channel,
                result=Result.DENIED,
                reason=decision.reason,
                occurred_at=now,
            )
        raise AccessDenied(_denied_message(decision, door), reason=decision.reason)
    asked = time.perf_counter()
    outcome = _send_unlock(db, door)
    wait_s = time.perf_counter() - asked
    result = {
        "opened": Result.OPENED,
        "refused": Result.REFUSED,
        "timeout": Result.TIMEOUT,
    }.get(outcome.status, Result.UNAVAILABLE)
    # Durable: a door that refused or did not answer stays in the audit log.
    with unit_of_work(db, durable=True):
        event = _add_event(
            db,
            door,
            user_id=actor.id,
            booking_id=decision.booking_id,
            channel=channel,
            result=result,
            reason=outcome.reason,
            command_id=outcome.command_id,
            occurred_at=now,
            wait_s=wait_s,
        )
        if result == Result.OPENED and channel == Channel.APP:
            record_door_entry(
                db, actor.id, door.location_id, at=now, booking_id=decision.booking_id
            )
    if result == Result.REFUSED:
        raise DoorRefused(reason=outcome.reason or "refused")
    if result == Result.TIMEOUT:
        raise DoorTimeout()
    if result == Result.UNAVAILABLE:
        raise DoorUnavailable(reason=outcome.reason or "broker_unreachable")
    return UnlockResult(door, event)


def _send_unlock(db: Session, door: Door) -> Outcome:
    link = get_link(current_app._get_current_object())
    if link is None:
        return Outcome("unavailable", "not_configured")
    secret = door_secret(door) if door.kind == DoorKind.LANDDESK else None
    kind, device_id, open_s = door.kind, door.device_id, door.open_s
    mqtt_id = door.mqtt_id
    # Give the connection back while we wait for the door (up to seconds).
    db.commit()
    if secret is not None:
        return link.unlock(mqtt_id, secret, open_s=open_s, timeout_s=ack_timeout_s())
    assert device_id is not None
    return link.unlock_vendor(
        str(kind), device_id, open_s=open_s, timeout_s=ack_timeout_s()
    )


def record_rate_limited(db: Session, actor: User | None, door_id: int) -> None:
    """Audit an attempt the rate limit stopped before it reached the rule."""
    door = db.get(Door, door_id)
    if door is None:
        return
    with unit_of_work(db, durable=True):  # the request answers 429
        _add_event(
            db,
            door,
            user_id=actor.id if actor is not None else None,
            channel=Channel.APP,
            result=Result.RATE_LIMITED,
            reason="rate_limited",
            occurred_at=utcnow(),
        )


# --- offline PINs and the door buttons ------------------------------------------


@dataclass(frozen=True)
class DoorAccess:
    """One door as a person sees it on a booking or location page."""

    door: Door
    can_open: bool
    reason: str
    pin: str | None = None
    pin_from: datetime | None = None
    pin_until: datetime | None = None


def _booking_serves(door: Door, booking: Booking) -> bool:
    ids = {r.id for r in door.resources}
    return not ids or booking.resource_id in ids


def doors_for_booking(
    db: Session, user: User, booking: Booking, now: datetime | None = None
) -> list[DoorAccess]:
    """The doors a booking opens, with the booking's own offline PIN for each
    of ours (its key is issued on first use, access.pins)."""
    now = now or utcnow()
    if booking.status != BookingStatus.CONFIRMED or booking.ends_at <= now:
        return []
    result = []
    key: DoorPin | None = None
    for door in doors_of(db, booking.location_id, active_only=True):
        if not _booking_serves(door, booking):
            continue
        decision = check_access(db, user, door, now)
        pin = pin_from = pin_until = None
        blocked = decision.reason == rules.SUSPENDED
        if door.kind == DoorKind.LANDDESK and door.secret_enc and not blocked:
            key = key or issue_pin(db, booking, now)
            if key is not None:
                start = key.start_slot * PIN_SLOT_S
                end = start + key.slots * PIN_SLOT_S
                try:
                    pin = offline_pin(
                        door_secret(door), door.mqtt_id, start, end, index=key.pin_index
                    )
                except (ValueError, DoorUnavailable):
                    pin = None
                pin_from = datetime.fromtimestamp(start, UTC)
                pin_until = datetime.fromtimestamp(end, UTC)
        result.append(
            DoorAccess(
                door, decision.allowed, decision.reason, pin, pin_from, pin_until
            )
        )
    return result


def doors_for_location(
    db: Session, user: User | None, location_id: int, now: datetime | None = None
) -> list[DoorAccess]:
    """A location's doors and whether this person may open each now."""
    now = now or utcnow()
    doors = doors_of(db, location_id, active_only=True)
    if user is None or not getattr(user, "is_authenticated", False):
        return [DoorAccess(d, False, rules.NO_BOOKING) for d in doors]
    # The PIN of the person's current or next booking here (within a day).
    booking = db.scalar(
        select(Booking)
        .where(
            Booking.user_id == user.id,
            Booking.location_id == location_id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.ends_at > now,
            Booking.starts_at < now + timedelta(days=1),
        )
        .order_by(Booking.starts_at)
        .limit(1)
    )
    with_pins = (
        {a.door.id: a for a in doors_for_booking(db, user, booking, now)}
        if booking is not None
        else {}
    )
    out = []
    for door in doors:
        if door.id in with_pins:
            out.append(with_pins[door.id])
            continue
        decision = check_access(db, user, door, now)
        out.append(DoorAccess(door, decision.allowed, decision.reason))
    return out


def demo_controller_secrets(db: Session) -> list[tuple[Door, str]]:
    """Every active Landdesk door with its secret (for the demo's controllers)."""
    out = []
    for door in db.scalars(
        select(Door).where(Door.kind == DoorKind.LANDDESK, Door.is_active.is_(True))
    ):
        try:
            out.append((door, door_secret(door)))
        except DoorUnavailable:
            continue
    return out
