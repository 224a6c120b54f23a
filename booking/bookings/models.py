from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base, UTCDateTime, utcnow
from ..spaces.models import Location, Resource


class BookingStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"  # held while the coworker pays
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # a hold that was never paid

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED)


class DayPart(enum.StrEnum):
    FULL = "full"
    AM = "am"
    PM = "pm"
    HOURS = "hours"


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ordered"),
        # The availability of a location for a day and a member's list.
        Index(None, "location_id", "starts_at"),
        Index(None, "user_id", "starts_at"),
        Index(None, "resource_id", "starts_at"),
        # Only the few bookings whose mail is still to go, oldest first: what
        # the mail delivery (notifications.services.deliver_booking_mails) scans.
        Index(
            "ix_bookings_mail_due",
            "id",
            sqlite_where=text("mail_due IS NOT NULL"),
            postgresql_where=text("mail_due IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE")
    )
    # Copied from the resource so a location's day is one index range.
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    seat: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The location's local date of the booking.
    booked_on: Mapped[date] = mapped_column(Date)
    part: Mapped[DayPart] = mapped_column(String(8))
    status: Mapped[BookingStatus] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Bumped on every change, for calendar clients (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # pending_payment only: released when this passes unpaid (billing).
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How it was settled: empty (free), "credit" or "payment" (passes).
    settled_by: Mapped[str | None] = mapped_column(String(8))
    # Set when the holder opens the door or taps "check in" (booking.checkin).
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The mail this booking still owes its holder ("booking_confirmed" or
    # "booking_cancelled"), set in the same transaction as the change and
    # cleared by the mail delivery; NULL when nothing is due.
    mail_due: Mapped[str | None] = mapped_column(String(20))
    # A booking for a guest without an account (bookings.requests.Guest):
    # user_id is the member (or operator) who booked it and pays for it, the
    # seat is the guest's, and the guest gets the mails and the door PIN.
    guest_name: Mapped[str | None] = mapped_column(String(120))
    guest_email: Mapped[str | None] = mapped_column(String(254))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    resource: Mapped[Resource] = relationship()
    location: Mapped[Location] = relationship()

    @property
    def is_active(self) -> bool:
        return BookingStatus(self.status).is_active

    @property
    def is_for_guest(self) -> bool:
        return self.guest_email is not None

    def __repr__(self) -> str:
        return f"<Booking {self.id} r{self.resource_id} {self.starts_at} {self.status}>"


class BookingSlot(Base):
    """One bookable unit a live booking occupies: the double-booking guard.

    The primary key (resource, seat, slot) makes a second booking of the same
    unit impossible in the database itself, on SQLite and PostgreSQL alike and
    whatever number of app processes write. Slots are logical: a desk's morning
    or afternoon of a date, or a room's 30-minute step in UTC (see
    ``bookings.rules``). Rows exist only while the booking is live; cancelling
    deletes them.

    A workplace's slots (desks, flex seats) also carry their holder, and
    (user_id, slot) is unique: one person, one workplace at a time, again
    guarded by the database whatever path or process books. Rooms leave it
    empty (NULLs never collide), as a person may hold a desk and a room.
    """

    __tablename__ = "booking_slots"
    __table_args__ = (
        Index(None, "booking_id"),
        Index(None, "user_id", "slot", unique=True),
    )

    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    seat: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
