"""Members' notification choices and the log that makes sending idempotent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..bookings.notices import BookingNotice
from ..db import Base, UTCDateTime, utcnow


class NotificationKind(enum.StrEnum):
    # Booking mails are marked on the booking (bookings.notices).
    BOOKING_CONFIRMED = BookingNotice.CONFIRMED.value
    BOOKING_CANCELLED = BookingNotice.CANCELLED.value
    REMINDER = "reminder"
    WAITLIST = "waitlist"
    PAYMENT_FAILED = "payment_failed"
    MEMBERSHIP_RENEWING = "membership_renewing"
    PAYMENT_DUE = "payment_due"  # one reminder after an invoice's due date


class NotificationOptOut(Base):
    """A kind of mail a member does not want; everything else is sent."""

    __tablename__ = "notification_opt_outs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[NotificationKind] = mapped_column(String(32), primary_key=True)


class SentNotification(Base):
    """One mail claimed for sending; the unique key stops a second copy.

    A send that fails is tried again after a growing pause
    (``next_attempt_at``); after the last attempt the row is marked
    ``failed_at`` and operators see it on /manage/mails.
    """

    __tablename__ = "sent_notifications"
    __table_args__ = (
        UniqueConstraint("key"),
        Index(None, "user_id"),
        Index(None, "booking_id"),
        Index(None, "failed_at"),
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
    # While sending: the end of the sender's lease; after a failure: the retry.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
