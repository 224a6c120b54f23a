"""Durable outgoing mail: every mail the service sends is a row of
``sent_notifications`` before it goes out.

A mail composed by any domain (a password reset, an invitation, a door alert,
a reminder, a waitlist alert) is queued with ``queue_mail`` in the caller's
unit of work, under a unique key, with its recipient, subject and text. It is
sent after the commit by the one mail delivery (``notifications.services``,
as MAIL_DELIVERY says; never in the request), which claims each due row,
sends it, and on a failure retries it with the same growing pauses as the
booking mails (``notifications.claims``) before marking it failed for the
operators. Booking mails use the same rows and the same claims; they are
composed at delivery time from the booking instead of stored.

Pure persistence: this module sits below every domain, so each may queue.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import events
from .db import Base, UTCDateTime, utcnow
from .upsert import conflict_insert

# Rows with a stored mail that still waits to go out (a small partial index).
_QUEUED = "sent_at IS NULL AND failed_at IS NULL AND body_text IS NOT NULL"


class SentNotification(Base):
    """One mail claimed for sending; the unique key stops a second copy.

    A send that fails is tried again after a growing pause
    (``next_attempt_at``); after the last attempt the row is marked
    ``failed_at`` and operators see it on /manage/mails. A queued mail
    (``queue_mail``) carries its composed message; a booking mail is
    composed from its booking when it is sent.
    """

    __tablename__ = "sent_notifications"
    __table_args__ = (
        UniqueConstraint("key"),
        Index(None, "user_id"),
        Index(None, "booking_id"),
        Index(None, "failed_at"),
        Index(
            "ix_sent_notifications_queued",
            "next_attempt_at",
            sqlite_where=sql_text(_QUEUED),
            postgresql_where=sql_text(_QUEUED),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "reminder:booking:42"
    key: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    # The booking a confirmation or cancellation is about (to compose it again).
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE")
    )
    kind: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # While sending: the end of the sender's lease; after a failure: the retry;
    # for a queued mail not yet tried: when it was queued (due at once).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    # A queued mail, composed when it was queued (None for booking mails).
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)


def queue_mail(
    db: Session,
    key: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    user_id: int | None = None,
    kind: str | None = None,
) -> bool:
    """Queue one composed mail under ``key`` in the caller's unit of work; it
    is sent after the commit (``events.mail_queued``) and retried until it
    goes out or fails for good. False if ``key`` was queued before (nothing
    is sent twice)."""
    now = utcnow()
    insert = conflict_insert(db.get_bind().dialect.name)
    table = SentNotification.__table__
    queued = db.scalar(
        insert(table)
        .values(
            key=key,
            user_id=user_id,
            kind=kind,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            recipient=to,
            subject=subject[:300],
            body_text=text,
            body_html=html,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key)
    )
    if queued is None:
        return False
    events.send_after_commit(db, events.mail_queued, None)
    return True
