"""Members' notification choices; the log that makes sending idempotent
(``SentNotification``) lives in booking.outbox, below every domain."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..bookings.notices import BookingNotice
from ..db import Base
from ..outbox import SentNotification  # noqa: F401 (where it lived)


class NotificationKind(enum.StrEnum):
    # Booking mails are marked on the booking (bookings.notices).
    BOOKING_CONFIRMED = BookingNotice.CONFIRMED.value
    BOOKING_CANCELLED = BookingNotice.CANCELLED.value
    REMINDER = "reminder"
    WAITLIST = "waitlist"
    PAYMENT_FAILED = "payment_failed"
    MEMBERSHIP_RENEWING = "membership_renewing"
    PAYMENT_DUE = "payment_due"  # one reminder after an invoice's due date
    INVOICE_ISSUED = "invoice_issued"


class NotificationOptOut(Base):
    """A kind of mail a member does not want; everything else is sent."""

    __tablename__ = "notification_opt_outs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[NotificationKind] = mapped_column(String(32), primary_key=True)
