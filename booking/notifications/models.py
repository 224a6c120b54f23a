"""Members' notification choices and the log that makes sending idempotent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class NotificationKind(enum.StrEnum):
    BOOKING_CONFIRMED = "booking_confirmed"
    BOOKING_CANCELLED = "booking_cancelled"
    REMINDER = "reminder"
    WAITLIST = "waitlist"
    PAYMENT_FAILED = "payment_failed"
    MEMBERSHIP_RENEWING = "membership_renewing"


class NotificationOptOut(Base):
    """A kind of mail a member does not want; everything else is sent."""

    __tablename__ = "notification_opt_outs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[NotificationKind] = mapped_column(String(32), primary_key=True)


class SentNotification(Base):
    """One mail claimed for sending; the unique key stops a second copy."""

    __tablename__ = "sent_notifications"
    __table_args__ = (UniqueConstraint("key"), Index(None, "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "reminder:booking:42"
    key: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
