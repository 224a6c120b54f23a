"""Idempotent sends: each mail is claimed under a unique key in
``sent_notifications`` before it goes out, retried with a backoff when the
server fails, and given up after MAX_ATTEMPTS (notifications.services)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..bookings.models import Booking
from ..db import unit_of_work, utcnow
from ..outbox import SentNotification
from ..upsert import conflict_insert

log = logging.getLogger(__name__)

# Pauses before the 2nd, 3rd, ... attempt; after the last one a mail is failed.
RETRY_BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1
# A claim whose sender died is taken over after this long.
CLAIM_LEASE = timedelta(minutes=10)


def claim(
    db: Session,
    key: str,
    user_id: int | None,
    *,
    booking_id: int | None = None,
    kind: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record that ``key`` is being sent; False if it was sent, is being sent,
    waits for its next attempt, or has failed for good."""
    return key in claim_many(db, [(key, user_id, booking_id, kind)], now=now)


def claim_many(
    db: Session,
    items: list[tuple[str, int | None, int | None, str | None]],
    *,
    now: datetime | None = None,
) -> set[str]:
    """``claim`` for (key, user_id, booking_id, kind) items in one statement;
    returns the keys claimed."""
    if not items:
        return set()
    now = now or utcnow()
    insert = conflict_insert(db.get_bind().dialect.name)
    table = SentNotification.__table__
    with unit_of_work(db):
        return set(
            db.scalars(
                insert(table)
                .values(
                    [
                        {
                            "key": key,
                            "user_id": user_id,
                            "booking_id": booking_id,
                            "kind": kind,
                            "created_at": now,
                            "attempts": 1,
                            "next_attempt_at": now + CLAIM_LEASE,
                        }
                        for key, user_id, booking_id, kind in items
                    ]
                )
                .on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "attempts": table.c.attempts + 1,
                        "next_attempt_at": now + CLAIM_LEASE,
                    },
                    where=table.c.sent_at.is_(None)
                    & table.c.failed_at.is_(None)
                    & (table.c.next_attempt_at <= now),
                )
                .returning(table.c.key)
            )
        )


def finish_claim(db: Session, key: str, error: str | None) -> None:
    finish_claims(db, [(key, error, False)])


def finish_claims(
    db: Session,
    outcomes: list[tuple[str, str | None, bool]],
    *,
    now: datetime | None = None,
) -> set[str]:
    """Record how claimed sends went: (key, error or None, give up). Returns
    the keys to be tried again."""
    now = now or utcnow()
    sent = [key for key, error, _ in outcomes if error is None]
    retries = set()
    with unit_of_work(db):
        if sent:
            db.execute(
                update(SentNotification.__table__)
                .where(SentNotification.key.in_(sent))
                .values(sent_at=now, next_attempt_at=None, last_error=None)
            )
        for key, error, give_up in outcomes:
            if error is None:
                continue
            row = db.scalar(
                select(SentNotification)
                .where(SentNotification.key == key)
                .execution_options(populate_existing=True)
            )
            row.last_error = error
            if give_up or row.attempts >= MAX_ATTEMPTS:
                log.error("gave up the mail %s after %d attempts", key, row.attempts)
                row.failed_at, row.next_attempt_at = now, None
            else:
                row.next_attempt_at = now + RETRY_BACKOFF[row.attempts - 1]
                retries.add(key)
    return retries


def failed_mails(
    db: Session, location_ids: list[int] | None, *, limit: int = 100
) -> list[tuple[SentNotification, Booking | None]]:
    """Mails given up, newest first, with their booking. ``location_ids`` None
    (administrators) includes mails that belong to no location."""
    query = select(SentNotification, Booking).outerjoin(
        Booking, Booking.id == SentNotification.booking_id
    )
    query = query.where(SentNotification.failed_at.is_not(None))
    if location_ids is not None:
        query = query.where(Booking.location_id.in_(location_ids))
    query = query.order_by(SentNotification.failed_at.desc()).limit(limit)
    return [(row, booking) for row, booking in db.execute(query)]
