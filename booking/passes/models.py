from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base, UTCDateTime, utcnow
from ..spaces.models import Location

# The network's time zone: network-wide passes, settlement months, due dates.
NETWORK_TIMEZONE = "Europe/Berlin"


class PlanKind(enum.StrEnum):
    PACK = "pack"  # N desk-days, valid for some days, paid once
    MEMBERSHIP = "membership"  # monthly subscription, N days a month or unlimited
    COMPANY = "company"  # an employer's monthly desk-day budget
    DAY_PASS = "day_pass"  # one (half) day, bought for a date, paid once


class PassStatus(enum.StrEnum):
    PENDING = "pending"  # bought, not paid yet
    ACTIVE = "active"
    PAST_DUE = "past_due"  # a renewal failed: grace, then suspension
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# A pass that has not ended: it may still become or stay usable. A fixed
# desk stays reserved for such a pass (a suspended member keeps the desk
# until the operator or Stripe ends the membership).
LIVE_PASS_STATUSES = (PassStatus.PENDING, PassStatus.ACTIVE, PassStatus.PAST_DUE)
# Passes bought for a fixed span of days rather than billed monthly.
DATED_KINDS = (PlanKind.PACK, PlanKind.DAY_PASS)


class Standing(enum.StrEnum):
    """What a member may do now; the door-access rule asks for this."""

    NONE = "none"  # no membership
    ACTIVE = "active"
    PAST_DUE_IN_GRACE = "past_due_in_grace"
    SUSPENDED = "suspended"


class Plan(Base):
    """Something an operator sells: a pack, a membership or a company budget."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("days IS NULL OR days >= 1", name="days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[PlanKind] = mapped_column(String(12))
    # Gross, VAT included.
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=1900)
    # Empty: valid in every location of the network.
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    # Desk-days per month (memberships, budgets) or in total (packs); empty
    # means unlimited.
    days: Mapped[int | None] = mapped_column(Integer)
    valid_days: Mapped[int | None] = mapped_column(Integer)  # packs only
    # Meeting-room hours included per month (memberships, budgets).
    room_hours: Mapped[int | None] = mapped_column(Integer)
    access_24_7: Mapped[bool] = mapped_column(Boolean, default=False)
    # Day passes: a morning or an afternoon instead of the whole day.
    half_day: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Memberships: the member gets a desk of their own at the plan's
    # location, assigned by an operator (Resource.fixed_pass_id).
    fixed_desk: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The Stripe price a subscription switches to when a member changes plan.
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    location: Mapped[Location | None] = relationship()

    @property
    def is_recurring(self) -> bool:
        return self.kind in (PlanKind.MEMBERSHIP, PlanKind.COMPANY)


class Company(Base):
    """An employer paying desk-days for named employees."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    billing_email: Mapped[str] = mapped_column(String(254), default="")
    admin_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The location whose operators look after the account; empty: only
    # network administrators.
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    # Invoicing (booking/invoicing): the address on its invoices, its order
    # reference (BT-13) and, for a public body, its Leitweg-ID (BT-10).
    billing_address: Mapped[str] = mapped_column(Text, default="", server_default="")
    order_reference: Mapped[str] = mapped_column(
        String(60), default="", server_default=""
    )
    leitweg_id: Mapped[str] = mapped_column(String(46), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    admin: Mapped[User] = relationship()
    location: Mapped[Location | None] = relationship()


class CompanyMember(Base):
    __tablename__ = "company_members"
    __table_args__ = (
        # A person draws on at most one employer's budget at a time.
        Index(
            "uq_company_members_current_user",
            "user_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index(None, "company_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Pass(Base):
    """A holder's entitlement: a pack, a membership or a company budget."""

    __tablename__ = "passes"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (company_id IS NULL)", name="one_holder"),
        Index(None, "user_id", "status"),
        Index(None, "company_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    kind: Mapped[PlanKind] = mapped_column(String(12))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE")
    )
    status: Mapped[PassStatus] = mapped_column(String(12))
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    # Copied from the plan when sold, so later price edits do not change it.
    credits: Mapped[int | None] = mapped_column(Integer)
    room_hours: Mapped[int | None] = mapped_column(Integer)
    access_24_7: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # packs: inclusive
    # Day passes: "am" or "pm" for a half-day pass, empty for the whole day.
    day_part: Mapped[str | None] = mapped_column(String(4))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_status: Mapped[str | None] = mapped_column(String(32))
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[Plan] = relationship()
    user: Mapped[User | None] = relationship()
    company: Mapped[Company | None] = relationship()

    def standing(self, now: datetime) -> Standing:
        if self.status == PassStatus.ACTIVE:
            return Standing.ACTIVE
        if self.status == PassStatus.PAST_DUE:
            if self.grace_until is not None and now < self.grace_until:
                return Standing.PAST_DUE_IN_GRACE
            return Standing.SUSPENDED
        return Standing.NONE

    @property
    def renews_here(self) -> bool:
        """A membership or budget paid by transfer or on site: its monthly
        periods are opened here (billing/services/renewals.py), not by a
        Stripe subscription."""
        return (
            self.kind in (PlanKind.MEMBERSHIP, PlanKind.COMPANY)
            and self.stripe_subscription_id is None
            and self.current_period_end is not None
        )

    def period_of(self, day: date) -> str:
        """Ledger period a day counts against: its month, or the whole pack."""
        if self.kind in (PlanKind.PACK, PlanKind.DAY_PASS):
            return "all"
        return day.strftime("%Y-%m")


class CreditEntry(Base):
    """The credit ledger: consumption (-1), returns (+1), grants (+N)."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        Index(None, "pass_id", "period"),
        Index(None, "booking_id"),
        Index(None, "location_id", "booked_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("passes.id", ondelete="CASCADE"))
    # Desk-days ("day") or meeting-room minutes ("minute").
    unit: Mapped[str] = mapped_column(String(6), default="day", server_default="day")
    delta: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(7))
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL")
    )
    # Where and when the day was used: the network settlement report.
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    booked_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


class CompanyInvitation(Base):
    """An e-mail invitation to draw on a company's budget.

    Only the SHA-256 of the token is stored; the token itself is in the
    link of the mail. Pending until accepted, withdrawn or expired.
    """

    __tablename__ = "company_invitations"
    __table_args__ = (Index(None, "company_id"), Index(None, "email"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE")
    )
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    company: Mapped[Company] = relationship()

    def is_pending(self, now: datetime) -> bool:
        return (
            self.accepted_at is None
            and self.withdrawn_at is None
            and now < self.expires_at
        )
