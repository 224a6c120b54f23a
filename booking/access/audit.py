"""The audit log: filters, the operator's view and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..csv_export import csv_text
from ..errors import Forbidden, InvalidInput
from ..spaces.services import get_managed_location, managed_location_ids
from ..validation import parse_id
from . import labels
from .doors import get_managed_door
from .models import AccessEvent, Channel, Result

# --- audit log -----------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    location_id: int | None = None
    door_id: int | None = None
    channel: str | None = None
    result: str | None = None
    user: str | None = None  # e-mail or part of it
    since: datetime | None = None
    until: datetime | None = None


def _parse_day(
    value: str | None, field: str, *, end_of_day: bool = False
) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if end_of_day and len(value) == 10:
            parsed += timedelta(days=1)  # a date means "to the end of that day"
    except (TypeError, ValueError, OverflowError):
        # OverflowError: a date at the end of the calendar (9999-12-31).
        raise InvalidInput(_l("Enter a date like 2026-05-04."), field=field) from None
    return parsed


def log_filter(args: dict) -> LogFilter:
    """Parse filter values (query string or JSON). Raises InvalidInput."""

    def number(name: str) -> int | None:
        value = args.get(name)
        if value in (None, ""):
            return None
        return parse_id(value, name, message=_l("This must be a number."))

    channel = args.get("channel") or None
    if channel is not None and channel not in set(Channel):
        raise InvalidInput(_l("Unknown channel."), field="channel")
    result = args.get("result") or None
    if result is not None and result not in set(Result):
        raise InvalidInput(_l("Unknown result."), field="result")
    return LogFilter(
        location_id=number("location_id"),
        door_id=number("door_id"),
        channel=channel,
        result=result,
        user=(args.get("user") or "").strip().lower() or None,
        since=_parse_day(args.get("since"), "since"),
        until=_parse_day(args.get("until"), "until", end_of_day=True),
    )


def access_log(
    db: Session, actor: User, filters: LogFilter, *, limit: int = 500
) -> list[AccessEvent]:
    """Audit rows of the locations the actor runs, newest first.

    Raises Forbidden (not an operator, or a location run by others),
    NotFound.
    """
    ids = managed_location_ids(db, actor)
    if ids == []:
        raise Forbidden()
    query = select(AccessEvent)
    if ids is not None:
        query = query.where(AccessEvent.location_id.in_(ids))
    if filters.location_id is not None:
        get_managed_location(db, actor, filters.location_id)
        query = query.where(AccessEvent.location_id == filters.location_id)
    if filters.door_id is not None:
        get_managed_door(db, actor, filters.door_id)
        query = query.where(AccessEvent.door_id == filters.door_id)
    if filters.channel:
        query = query.where(AccessEvent.channel == filters.channel)
    if filters.result:
        query = query.where(AccessEvent.result == filters.result)
    if filters.user:
        # Part of the e-mail address or of the name, in any case ("jana").
        query = query.join(User, AccessEvent.user_id == User.id).where(
            or_(User.email.icontains(filters.user), User.name.icontains(filters.user))
        )
    if filters.since:
        query = query.where(AccessEvent.occurred_at >= filters.since)
    if filters.until:
        query = query.where(AccessEvent.occurred_at < filters.until)
    query = query.order_by(AccessEvent.occurred_at.desc(), AccessEvent.id.desc())
    return list(db.scalars(query.limit(limit)))


CSV_COLUMNS = (
    _l("Time (local)"),
    _l("Location"),
    _l("Door no."),
    _l("Door"),
    _l("Channel"),
    _l("Result"),
    _l("Door report"),
    _l("E-mail"),
    _l("Name"),
    _l("Booking no."),
    _l("Reason"),
    _l("Command id"),
    _l("Recorded later (door was offline)"),
)


def access_log_csv(rows: list[AccessEvent]) -> str:
    """The log in the reader's language and CSV dialect (csv_export), times
    in each location's zone."""
    return csv_text(
        CSV_COLUMNS,
        (
            (
                row.occurred_at.astimezone(
                    ZoneInfo(row.door.location.timezone)
                ).replace(tzinfo=None),
                row.door.location.name,
                row.door_id,
                row.door.name,
                labels.channel_label(row.channel),
                labels.result_label(row.result),
                labels.event_label(row.event_type),
                row.user.email if row.user else None,
                row.user.name if row.user else None,
                row.booking_id,
                labels.reason_label(row.reason),
                row.command_id,
                bool(row.offline),
            )
            for row in rows
        ),
    )
