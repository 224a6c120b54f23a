"""Personal data: export everything about a member, delete an account.

Other domains plug in through three registries (see docs/reports.md):
``EXPORTERS`` add their data to the export, ``ERASERS`` run inside the
deletion's unit of work (billing keeps invoices as the law requires and only
detaches what it may), and ``DOOR_LOG_ANONYMISERS`` strip the person from door
log entries older than ``DOOR_LOG_RETENTION_DAYS`` (``flask --app booking
anonymise-door-log``, for cron).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import events
from ..auth.models import User, UserSession
from ..auth.services import authenticate, hash_password
from ..bookings import notices
from ..bookings.models import ACTIVE_STATUSES, Booking, BookingSlot, BookingStatus
from ..calendars.models import CalendarFeed
from ..checkin.models import WaitlistEntry
from ..db import unit_of_work, utcnow
from ..errors import Forbidden, InvalidInput, NotFound
from ..insight.models import MemberProfile
from ..notifications.models import NotificationOptOut, SentNotification
from ..spaces.models import Location, Resource
from ..spaces.services import get_managed_location

EXPORTERS: dict[str, Callable[[Session, User], object]] = {}
ERASERS: list[Callable[[Session, User], None]] = []
DOOR_LOG_ANONYMISERS: list[Callable[[Session, datetime], int]] = []
# What an operator may see of a member at one location: fn(db, member, location_id).
LOCATION_VIEWS: dict[str, Callable[[Session, User, int], object]] = {}
DEFAULT_DOOR_LOG_RETENTION_DAYS = 90


def add_hook(registry: list, fn: Callable) -> None:
    """Register ``fn`` once, however often the app is created."""
    if fn not in registry:
        registry.append(fn)


def door_log_cutoff(now: datetime | None = None) -> datetime:
    """Door log entries older than this lose the person."""
    days = int(
        current_app.config.get(
            "DOOR_LOG_RETENTION_DAYS", DEFAULT_DOOR_LOG_RETENTION_DAYS
        )
    )
    return (now or utcnow()) - timedelta(days=days)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _booking(booking: Booking, location: Location, resource: Resource) -> dict:
    return {
        "id": booking.id,
        "location": location.name,
        "resource": resource.name,
        "date": booking.booked_on.isoformat(),
        "part": booking.part,
        "start": _iso(booking.starts_at),
        "end": _iso(booking.ends_at),
        "status": booking.status,
        "created_at": _iso(booking.created_at),
        "cancelled_at": _iso(booking.cancelled_at),
        "checked_in_at": _iso(booking.checked_in_at),
    }


MAX_BILLING_ADDRESS = 300


def save_billing_address(db: Session, user: User, text: str) -> None:
    """The address invoices to this person carry (§ 14 Abs. 4 Nr. 1 UStG):
    at most five lines; empty removes it. Invoices already issued keep the
    address they were issued with."""
    lines = [line.strip() for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    address = "\n".join(lines)
    if len(lines) > 5 or len(address) > MAX_BILLING_ADDRESS:
        raise InvalidInput(
            _l("The address may have at most five lines and 300 characters."),
            field="billing_address",
        )
    with unit_of_work(db):
        user.billing_address = address


def export_user_data(db: Session, user: User) -> dict:
    """Everything the service holds about ``user``, as JSON-ready data."""
    profile = db.get(MemberProfile, user.id)
    bookings = db.execute(
        select(Booking, Location, Resource)
        .join(Location, Location.id == Booking.location_id)
        .join(Resource, Resource.id == Booking.resource_id)
        .where(Booking.user_id == user.id)
        .order_by(Booking.starts_at)
    ).all()
    data = {
        "exported_at": _iso(utcnow()),
        "account": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "locale": user.locale,
            "billing_address": user.billing_address,
            "created_at": _iso(user.created_at),
            "password_changed_at": _iso(user.password_changed_at),
        },
        "profile": None
        if profile is None
        else {
            "target_group": profile.target_group,
            "home_municipality": profile.home_municipality,
            "commute_km": profile.commute_km,
        },
        "notifications_switched_off": sorted(
            db.scalars(
                select(NotificationOptOut.kind).where(
                    NotificationOptOut.user_id == user.id
                )
            )
        ),
        "bookings": [_booking(b, loc, res) for b, loc, res in bookings],
        "waitlist": [
            {"location_id": e.location_id, "date": e.day.isoformat()}
            for e in db.scalars(
                select(WaitlistEntry).where(WaitlistEntry.user_id == user.id)
            )
        ],
        "calendar_feeds": [
            {
                "location_id": f.location_id,
                "created_at": _iso(f.created_at),
                "revoked_at": _iso(f.revoked_at),
            }
            for f in db.scalars(
                select(CalendarFeed).where(CalendarFeed.user_id == user.id)
            )
        ],
        "logins": [
            {
                "kind": s.kind,
                "created_at": _iso(s.created_at),
                "expires_at": _iso(s.expires_at),
                "revoked_at": _iso(s.revoked_at),
                "user_agent": s.user_agent,
            }
            for s in db.scalars(
                select(UserSession).where(UserSession.user_id == user.id)
            )
        ],
        "mails_sent": [
            {"key": n.key, "sent_at": _iso(n.sent_at)}
            for n in db.scalars(
                select(SentNotification).where(SentNotification.user_id == user.id)
            )
        ],
    }
    for name, exporter in EXPORTERS.items():
        data[name] = exporter(db, user)
    return data


def delete_account(
    db: Session, user: User, password: str, *, now: datetime | None = None
) -> None:
    """Delete a member's account after checking the password.

    Future bookings are cancelled (their desks free up, credits go back,
    payments are refunded), past ones stay for the locations' statistics but
    point to an anonymous, disabled account. Raises Forbidden for a wrong
    password, and whatever an eraser raises (billing: BookingConflict while a
    membership still renews).
    """
    now = now or utcnow()
    if authenticate(db, user.email, password) is None:
        raise Forbidden(_l("The password is wrong."))
    # Hashed outside the transaction: nobody knows this password.
    unusable = hash_password(secrets.token_urlsafe(32))
    with unit_of_work(db):
        user = db.get(User, user.id)
        future = list(
            db.scalars(
                select(Booking).where(
                    Booking.user_id == user.id,
                    Booking.status.in_(ACTIVE_STATUSES),
                    Booking.ends_at > now,
                )
            )
        )
        for booking in future:
            db.execute(delete(BookingSlot).where(BookingSlot.booking_id == booking.id))
            booking.status = BookingStatus.CANCELLED
            booking.cancelled_at = now
            booking.sequence += 1
            events.booking_released.send(booking, db=db, actor=user, now=now)
            # No mail goes to the deleted account; the day's waitlist is told.
            notices.announce(db, booking, notices.BookingNotice.CANCELLED)
        for model in (
            UserSession,
            CalendarFeed,
            MemberProfile,
            NotificationOptOut,
            WaitlistEntry,
            SentNotification,
        ):
            db.execute(delete(model).where(model.user_id == user.id))
        for eraser in ERASERS:
            eraser(db, user)
        user.email = f"deleted-{user.id}@deleted.invalid"
        user.name = ""
        user.billing_address = ""
        user.locale = None
        user.password_hash = unusable
        user.is_active = False


def anonymise_door_log(db: Session, *, now: datetime | None = None) -> int:
    """Run the door-log anonymisers for entries past the retention period."""
    cutoff = door_log_cutoff(now)
    total = 0
    with unit_of_work(db):
        for anonymiser in DOOR_LOG_ANONYMISERS:
            total += anonymiser(db, cutoff)
    return total


def member_at_location(db: Session, actor: User, location_id: int, email: str) -> dict:
    """What an operator may see of a member: bookings at this location only,
    plus what other domains add through ``LOCATION_VIEWS`` (door events,
    orders), each limited to this location.

    Raises Forbidden (not the actor's location) and NotFound (no such member
    among the location's bookers).
    """
    location = get_managed_location(db, actor, location_id)
    member = db.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if member is None:
        raise NotFound(_l("There is no such member at this location."))
    rows = db.execute(
        select(Booking, Resource)
        .join(Resource, Resource.id == Booking.resource_id)
        .where(Booking.user_id == member.id, Booking.location_id == location.id)
        .order_by(Booking.starts_at)
    ).all()
    extra = {
        name: view(db, member, location.id) for name, view in LOCATION_VIEWS.items()
    }
    if not rows and not any(extra.values()):
        raise NotFound(_l("There is no such member at this location."))
    return {
        "id": member.id,
        "name": member.name,
        "email": member.email,
        "bookings": [_booking(b, location, r) for b, r in rows],
        **extra,
    }
