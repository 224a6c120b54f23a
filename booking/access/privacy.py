"""The door log and personal data: a member's own door events in the export,
their events at one location for its operators, and the retention period after
which an entry keeps the facts (door, time, channel, result) but loses the
person (see docs/reports.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..privacy import services as privacy
from .models import AccessEvent, Door

# PIN entries note their PIN window, which names the booking it belonged to.
_WINDOW_PREFIX = "window "


def _event(event: AccessEvent, door: Door) -> dict:
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "location_id": event.location_id,
        "door": door.name,
        "channel": event.channel,
        "result": event.result,
        "event": event.event_type,
        "reason": event.reason,
        "booking_id": event.booking_id,
        "offline": event.offline,
    }


def _events_of(db: Session, user: User, location_id: int | None = None) -> list:
    query = (
        select(AccessEvent, Door)
        .join(Door, Door.id == AccessEvent.door_id)
        .where(AccessEvent.user_id == user.id)
        .order_by(AccessEvent.occurred_at, AccessEvent.id)
    )
    if location_id is not None:
        query = query.where(AccessEvent.location_id == location_id)
    return [_event(event, door) for event, door in db.execute(query)]


def export_door_events(db: Session, user: User) -> list[dict]:
    """Every door log entry that names the member."""
    return _events_of(db, user)


def door_events_at(db: Session, user: User, location_id: int) -> list[dict]:
    """The member's door log entries at one location (for its operators)."""
    return _events_of(db, user, location_id)


def anonymise_door_events(
    db: Session, cutoff: datetime, *, user_id: int | None = None
) -> int:
    """Strip the person (user, booking, PIN window) from entries older than
    ``cutoff``, optionally only one person's. Inside the caller's unit of work;
    returns the entries changed."""
    names_someone = or_(
        AccessEvent.user_id.is_not(None),
        AccessEvent.booking_id.is_not(None),
        AccessEvent.reason.like(f"{_WINDOW_PREFIX}%"),
    )
    condition = and_(AccessEvent.occurred_at < cutoff, names_someone)
    if user_id is not None:
        condition = and_(condition, AccessEvent.user_id == user_id)
    result = db.execute(
        update(AccessEvent)
        .where(condition)
        .values(
            user_id=None,
            booking_id=None,
            reason=case(
                (AccessEvent.reason.like(f"{_WINDOW_PREFIX}%"), None),
                else_=AccessEvent.reason,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def anonymise_door_log(db: Session, cutoff: datetime) -> int:
    return anonymise_door_events(db, cutoff)


def erase_door_events(db: Session, user: User) -> None:
    """Account deletion: entries already past the retention period lose the
    person now; newer ones keep it until ``anonymise-door-log`` reaches them
    (an operator may need to know who came in until then)."""
    anonymise_door_events(db, privacy.door_log_cutoff(), user_id=user.id)


def register_privacy() -> None:
    privacy.EXPORTERS["door_events"] = export_door_events
    privacy.LOCATION_VIEWS["door_events"] = door_events_at
    privacy.add_hook(privacy.ERASERS, erase_door_events)
    privacy.add_hook(privacy.DOOR_LOG_ANONYMISERS, anonymise_door_log)
