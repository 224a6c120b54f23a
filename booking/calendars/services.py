"""Secret calendar feeds and room blocks imported from external calendars."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..bookings.models import ACTIVE_STATUSES, Booking
from ..bookings.rules import BookableResource, overlaps
from ..db import unit_of_work, utcnow
from ..errors import BookingConflict, InvalidInput, NotFound
from ..spaces.models import DAY_KINDS, Location, Resource
from ..spaces.services import can_manage, get_managed_location
from ..validation import is_digits
from .fetch import fetch_calendar
from .models import CalendarFeed, CalendarImport, RoomBlock

# Feeds cover this much history; the future is covered up to the horizon.
FEED_PAST = timedelta(days=90)
# Imported recurring events are expanded this far ahead.
IMPORT_AHEAD = timedelta(days=400)
# Longest single block kept; bounds the range scans as bookings do.
IMPORT_BLOCK_MAX = timedelta(days=14)


# --- feeds -----------------------------------------------------------------


def _signature(feed: CalendarFeed) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"calendar-feed:{feed.id}:{feed.salt}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def feed_token(feed: CalendarFeed) -> str:
    return f"{feed.id}.{_signature(feed)}"


def feed_url(feed: CalendarFeed) -> str:
    return f"{current_app.config['PUBLIC_URL']}/calendar/{feed_token(feed)}.ics"


def _live_feed(db: Session, user: User, location_id: int | None) -> CalendarFeed | None:
    query = select(CalendarFeed).where(
        CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
    )
    if location_id is None:
        query = query.where(CalendarFeed.location_id.is_(None))
    else:
        query = query.where(CalendarFeed.location_id == location_id)
    return db.scalar(query.order_by(CalendarFeed.id.desc()).limit(1))


def personal_feed(db: Session, user: User) -> CalendarFeed:
    """The member's live feed, created on first use."""
    feed = _live_feed(db, user, None)
    if feed is not None:
        return feed
    with unit_of_work(db):
        feed = _live_feed(db, user, None)
        if feed is None:
            feed = CalendarFeed(user_id=user.id, salt=secrets.token_hex(16))
            db.add(feed)
    return feed


def personal_feed_url(db: Session, user: User) -> str:
    return feed_url(personal_feed(db, user))


def location_feed_for(db: Session, actor: User, location_id: int) -> CalendarFeed:
    """An operator's feed of one location they run. Raises NotFound/Forbidden."""
    get_managed_location(db, actor, location_id)
    feed = _live_feed(db, actor, location_id)
    if feed is not None:
        return feed
    with unit_of_work(db):
        feed = CalendarFeed(
            user_id=actor.id, location_id=location_id, salt=secrets.token_hex(16)
        )
        db.add(feed)
    return feed


def revoke_feed(
    db: Session, actor: User, location_id: int | None = None
) -> CalendarFeed:
    """End the current feed URL and issue a new one."""
    with unit_of_work(db):
        if location_id is not None:
            get_managed_location(db, actor, location_id)
        for feed in db.scalars(
            select(CalendarFeed).where(
                CalendarFeed.user_id == actor.id,
                CalendarFeed.revoked_at.is_(None),
                CalendarFeed.location_id.is_(None)
                if location_id is None
                else CalendarFeed.location_id == location_id,
            )
        ):
            feed.revoked_at = utcnow()
        feed = CalendarFeed(
            user_id=actor.id, location_id=location_id, salt=secrets.token_hex(16)
        )
        db.add(feed)
    return feed


def feed_for_token(db: Session, token: str) -> CalendarFeed:
    """The live feed a URL token names; NotFound for anything else."""
    feed_id, _, signature = token.partition(".")
    if not is_digits(feed_id) or len(feed_id) > 12:
        raise NotFound()
    feed = db.get(CalendarFeed, int(feed_id))
    if (
        feed is None
        or feed.revoked_at is not None
        or not hmac.compare_digest(_signature(feed), signature)
    ):
        raise NotFound()
    owner = db.get(User, feed.user_id)
    if owner is None or not owner.is_active:
        raise NotFound()
    if feed.location_id is not None and not can_manage(db, owner, feed.location_id):
        # The operator no longer runs the location: the feed dies with the role.
        raise NotFound()
    return feed


def feed_bookings(
    db: Session, feed: CalendarFeed, *, now: datetime | None = None
) -> list[Booking]:
    now = now or utcnow()
    query = select(Booking).where(Booking.starts_at >= now - FEED_PAST)
    if feed.location_id is None:
        query = query.where(Booking.user_id == feed.user_id)
    else:
        query = query.where(Booking.location_id == feed.location_id)
    return list(db.scalars(query.order_by(Booking.starts_at).limit(5000)))


# --- room blocks -----------------------------------------------------------


def check_not_blocked(
    db: Session, resource: BookableResource, starts_at: datetime, ends_at: datetime
) -> None:
    """Raise BookingConflict when an imported event holds the room then.

    Desks are never blocked this way, so their booking path runs no query.
    """
    if resource.kind in DAY_KINDS:
        return
    blocked = db.scalar(
        select(
            exists().where(
                RoomBlock.resource_id == resource.id,
                RoomBlock.starts_at < ends_at,
                RoomBlock.starts_at >= starts_at - IMPORT_BLOCK_MAX,
                overlaps(RoomBlock.starts_at, RoomBlock.ends_at, starts_at, ends_at),
            )
        )
    )
    if blocked:
        raise BookingConflict(_l("The room is reserved for an event at that time."))


def blocks_between(
    db: Session, location_id: int, starts_at: datetime, ends_at: datetime
) -> list[RoomBlock]:
    return list(
        db.scalars(
            select(RoomBlock).where(
                RoomBlock.location_id == location_id,
                RoomBlock.starts_at >= starts_at - IMPORT_BLOCK_MAX,
                overlaps(RoomBlock.starts_at, RoomBlock.ends_at, starts_at, ends_at),
            )
        )
    )


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    # Live bookings that overlap a block: the operator sorts these out.
    conflicts: list[int] = field(default_factory=list)


def _get_import(db: Session, actor: User, import_id: int) -> CalendarImport:
    source = db.get(CalendarImport, import_id)
    if source is None or not can_manage(db, actor, source.location_id):
        raise NotFound(_l("There is no such calendar."))
    return source


def imports_of(db: Session, actor: User, location_id: int) -> list[CalendarImport]:
    get_managed_location(db, actor, location_id)
    return list(
        db.scalars(
            select(CalendarImport)
            .where(CalendarImport.location_id == location_id)
            .order_by(CalendarImport.id)
        )
    )


def _importable_room(
    db: Session, actor: User, location_id: int, resource_id: int
) -> tuple[Location, Resource]:
    location = get_managed_location(db, actor, location_id)
    resource = db.get(Resource, resource_id)
    if resource is None or resource.location_id != location.id:
        raise InvalidInput(_l("Choose a room of this location."), field="resource_id")
    if resource.kind in DAY_KINDS:
        raise InvalidInput(
            _l("Only rooms and booths can be blocked by a calendar."),
            field="resource_id",
        )
    return location, resource


def create_import(
    db: Session,
    actor: User,
    location_id: int,
    *,
    resource_id: int,
    name: str,
    url: str | None = None,
    data: bytes | None = None,
    now: datetime | None = None,
) -> tuple[CalendarImport, ImportResult]:
    """Register an external calendar for a room and import it at once.

    ``data`` is an uploaded file; without it the URL is fetched. Nothing is
    kept when the import fails. Raises NotFound, Forbidden, InvalidInput.
    """
    now = now or utcnow()
    url = (url or "").strip() or None
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise InvalidInput(
            _l("The calendar address starts with https://."), field="url"
        )
    if url is None and data is None:
        raise InvalidInput(
            _l("Give the calendar's address or upload a file."), field="url"
        )
    location, resource = _importable_room(db, actor, location_id, resource_id)
    # Fetch and parse before the transaction: a slow or bad calendar holds no
    # lock and leaves no row.
    if data is None:
        data = fetch_ics(url)
    wanted = parse_blocks(data, location.timezone, now=now)
    with unit_of_work(db):
        location, resource = _importable_room(db, actor, location_id, resource_id)
        source = CalendarImport(
            location_id=location.id,
            resource_id=resource.id,
            name=(name or "").strip()[:120] or resource.name,
            url=url,
            created_by_id=actor.id,
        )
        db.add(source)
        db.flush()
        result = _store_blocks(db, source, wanted, now)
    return source, result


def delete_import(db: Session, actor: User, import_id: int) -> None:
    with unit_of_work(db):
        db.delete(_get_import(db, actor, import_id))


def fetch_ics(url: str) -> bytes:
    """Download a calendar (outside any transaction). Raises InvalidInput."""
    return fetch_calendar(
        url, allow_private=current_app.config["CALENDAR_IMPORT_ALLOW_PRIVATE"]
    )


def _as_utc(value: date | datetime, tz: ZoneInfo, *, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: the location's wall clock
            value = value.replace(tzinfo=tz)
        return value.astimezone(UTC)
    # An all-day event holds the room for the whole local day.
    return datetime.combine(value, time(), tzinfo=tz).astimezone(UTC)


def parse_blocks(
    data: bytes, tz_name: str, *, now: datetime
) -> dict[tuple[str, str], tuple[str, datetime, datetime]]:
    """Busy occurrences from now on: {(uid, occurrence): (summary, start, end)}.

    Raises InvalidInput for data that is not iCalendar.
    """
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError):
        # The parser's message quotes the file: never echo fetched content.
        raise InvalidInput(_l("This is not an iCalendar file."), field="file") from None
    tz = ZoneInfo(tz_name)
    window_start = now - timedelta(days=1)
    try:
        occurrences = recurring_ical_events.of(calendar).between(
            window_start, now + IMPORT_AHEAD
        )
    except (ValueError, TypeError):
        raise InvalidInput(
            _l("The calendar could not be read."), field="file"
        ) from None
    # A one-off event keeps its key when it moves; occurrences of a series
    # are told apart by their original start.
    series = {
        str(component.get("UID", ""))
        for component in calendar.walk("VEVENT")
        if "RRULE" in component or "RDATE" in component or "RECURRENCE-ID" in component
    }
    result = {}
    for event in occurrences:
        if event.name != "VEVENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
            continue
        start = event.get("DTSTART")
        if start is None:
            continue
        starts_at = _as_utc(start.dt, tz)
        end = event.get("DTEND")
        if end is not None:
            ends_at = _as_utc(end.dt, tz)
        elif isinstance(start.dt, datetime):
            ends_at = starts_at + (
                event.get("DURATION").dt if "DURATION" in event else timedelta()
            )
        else:
            ends_at = _as_utc(start.dt + timedelta(days=1), tz)
        if ends_at <= starts_at or ends_at - starts_at > IMPORT_BLOCK_MAX:
            continue
        uid = str(event.get("UID", ""))[:255] or f"no-uid-{starts_at.isoformat()}"
        recurrence = event.get("RECURRENCE-ID")
        if str(event.get("UID", "")) not in series:
            occurrence = "single"
        else:
            original = starts_at if recurrence is None else _as_utc(recurrence.dt, tz)
            occurrence = original.strftime("%Y%m%dT%H%M%SZ")
        key = (uid, occurrence)
        result[key] = (str(event.get("SUMMARY", ""))[:255], starts_at, ends_at)
    return result


def run_import(
    db: Session,
    actor: User | None,
    import_id: int,
    data: bytes | None = None,
    *,
    now: datetime | None = None,
) -> ImportResult:
    """(Re-)import a calendar: new events are added, moved ones updated,
    vanished ones removed; nothing is duplicated. ``actor`` None is the cron
    job. Fetches the URL when no ``data`` is given. Raises NotFound,
    InvalidInput.
    """
    now = now or utcnow()
    source = (
        db.get(CalendarImport, import_id)
        if actor is None
        else _get_import(db, actor, import_id)
    )
    if source is None:
        raise NotFound(_l("There is no such calendar."))
    if data is None:
        if not source.url:
            raise InvalidInput(_l("Upload the calendar file again."), field="file")
        data = fetch_ics(source.url)
    location = db.get(Location, source.location_id)
    wanted = parse_blocks(data, location.timezone, now=now)
    with unit_of_work(db):
        return _store_blocks(db, source, wanted, now)


def _store_blocks(
    db: Session,
    source: CalendarImport,
    wanted: dict[tuple[str, str], tuple[str, datetime, datetime]],
    now: datetime,
) -> ImportResult:
    """Bring the import's blocks in line with ``wanted`` (inside a unit of work)."""
    result = ImportResult()
    # Take the room's lock as create_booking does, so a booking and an
    # import of the same room are serialised.
    query = select(Resource).where(Resource.id == source.resource_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    db.execute(query)
    existing = {
        (block.uid, block.occurrence): block
        for block in db.scalars(
            select(RoomBlock).where(RoomBlock.import_id == source.id)
        )
    }
    horizon_start = now - timedelta(days=1)
    for key, block in existing.items():
        if key not in wanted and block.ends_at > horizon_start:
            db.delete(block)
            result.removed += 1
    for key, (summary, starts_at, ends_at) in wanted.items():
        block = existing.get(key)
        if block is None:
            db.add(
                RoomBlock(
                    import_id=source.id,
                    resource_id=source.resource_id,
                    location_id=source.location_id,
                    uid=key[0],
                    occurrence=key[1],
                    summary=summary,
                    starts_at=starts_at,
                    ends_at=ends_at,
                )
            )
            result.added += 1
        elif (block.summary, block.starts_at, block.ends_at) != (
            summary,
            starts_at,
            ends_at,
        ):
            block.summary, block.starts_at, block.ends_at = (
                summary,
                starts_at,
                ends_at,
            )
            result.updated += 1
        else:
            result.unchanged += 1
    source.imported_at = now
    db.flush()
    result.conflicts = list(
        db.scalars(
            select(Booking.id)
            .join(
                RoomBlock,
                (RoomBlock.resource_id == Booking.resource_id)
                & overlaps(
                    RoomBlock.starts_at,
                    RoomBlock.ends_at,
                    Booking.starts_at,
                    Booking.ends_at,
                ),
            )
            .where(
                RoomBlock.import_id == source.id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.ends_at > now,
            )
            .distinct()
            .order_by(Booking.id)
        )
    )
    return result


def refresh_all_imports(db: Session, *, now: datetime | None = None) -> dict[int, str]:
    """Re-import every calendar that has a URL (for cron). Returns id -> outcome."""
    outcomes = {}
    ids = list(
        db.scalars(select(CalendarImport.id).where(CalendarImport.url.is_not(None)))
    )
    for import_id in ids:
        try:
            result = run_import(db, None, import_id, now=now)
        except InvalidInput as error:
            outcomes[import_id] = f"failed: {error.message}"
        else:
            outcomes[import_id] = f"+{result.added} ~{result.updated} -{result.removed}"
    return outcomes
