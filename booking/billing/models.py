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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base, UTCDateTime, utcnow


class OrderKind(enum.StrEnum):
    BOOKING = "booking"  # a day, half day or room hours: the day pass
    PACK = "pack"
    MEMBERSHIP = "membership"
    COMPANY = "company"
    DAY_PASS = "day_pass"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"  # abandoned, failed or expired before payment
    REFUNDED = "refunded"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUND_DUE = "refund_due"  # decided, the Stripe call has not gone through yet
    REFUNDED = "refunded"


class PaymentMethod(enum.StrEnum):
    """How an order is paid; a location chooses which of these it offers."""

    STRIPE = "stripe"  # card or SEPA through Stripe Checkout
    INVOICE = "invoice"  # bank transfer to the operator's account, due in N days
    ON_SITE = "on_site"  # cash or card at the space, recorded by the operator


class BillingCustomer(Base):
    """The one Stripe customer of a member or a company."""

    __tablename__ = "billing_customers"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (company_id IS NULL)", name="one_holder"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        Index(None, "user_id", "created_at"),
        Index(None, "booking_id"),
        Index(None, "status"),
        # A membership paid by transfer or on site: one order per period.
        UniqueConstraint("pass_id", "period_starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrderKind] = mapped_column(String(12))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL")
    )
    pass_id: Mapped[int | None] = mapped_column(
        ForeignKey("passes.id", ondelete="SET NULL")
    )
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    description: Mapped[str] = mapped_column(String(300))
    amount_cents: Mapped[int] = mapped_column(Integer)  # gross
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=1900)
    status: Mapped[OrderStatus] = mapped_column(String(12))
    payment_method: Mapped[PaymentMethod] = mapped_column(
        String(12), default=PaymentMethod.STRIPE, server_default="stripe"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Invoice and on-site orders: the day the money is due, and when the one
    # reminder after it went out.
    due_on: Mapped[date | None] = mapped_column(Date)
    # A pending order without a booking (day pass, pack) is closed unpaid
    # when this passes (a booking's own hold_expires_at rules a booking).
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Memberships and company budgets paid by transfer or on site: the first
    # day of the month-long period this order pays (billing/services/renewals).
    period_starts_on: Mapped[date | None] = mapped_column(Date)
    # How much of the sale invoicing has been told is taken back
    # (events.sale_reversed): never more than the order's amount, never twice.
    reversed_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    user: Mapped[User] = relationship()
    payments: Mapped[list[Payment]] = relationship(
        back_populates="order", order_by="Payment.id"
    )
    offline_payments: Mapped[list[OfflinePayment]] = relationship(
        back_populates="order", order_by="OfflinePayment.id"
    )
    payback: Mapped[OfflinePayback | None] = relationship(back_populates="order")

    @property
    def paid_offline_cents(self) -> int:
        return sum(p.amount_cents for p in self.offline_payments)

    @property
    def open_cents(self) -> int:
        """What is still to be paid of an invoice or on-site order."""
        if self.status != OrderStatus.PENDING:
            return 0
        return max(self.amount_cents - self.paid_offline_cents, 0)

    @property
    def vat_cents(self) -> int:
        """VAT contained in the gross amount, rounded half up to the cent."""
        rate = self.vat_rate_bp
        return (self.amount_cents * rate * 2 + (10000 + rate)) // (2 * (10000 + rate))


class Payment(Base):
    """One attempt to collect an order through Stripe."""

    __tablename__ = "payments"
    __table_args__ = (Index(None, "order_id"), Index(None, "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    status: Mapped[PaymentStatus] = mapped_column(String(12))
    amount_cents: Mapped[int] = mapped_column(Integer)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(
        String(255), unique=True
    )
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(
        String(255), unique=True
    )
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Subscription payments: the Stripe invoice this row records.
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="payments")


class OfflinePaymentKind(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CARD_ON_SITE = "card_on_site"


class OfflinePayment(Base):
    """Money an operator received outside Stripe (bank transfer, cash, card
    terminal) and recorded against an order; several may add up to it.

    ``dedupe_key`` is unique: a retried or doubled request records once.
    """

    __tablename__ = "offline_payments"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        UniqueConstraint("dedupe_key"),
        Index(None, "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[OfflinePaymentKind] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="offline_payments")


class OfflinePayback(Base):
    """Money of a cancelled transfer or on-site order that the operator paid
    back by hand. One per order: recording it again returns the first."""

    __tablename__ = "offline_paybacks"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        UniqueConstraint("order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[OfflinePaymentKind] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="payback")


class LocationPaymentSettings(Base):
    """How a location takes money: which ways to pay it offers, and its
    terms for bank transfer on invoice. No row: Stripe only (when Stripe is
    configured)."""

    __tablename__ = "location_payment_settings"
    __table_args__ = (
        CheckConstraint("invoice_due_days BETWEEN 1 AND 90", name="due_days_in_range"),
    )

    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    stripe: Mapped[bool] = mapped_column(Boolean, default=True)
    invoice: Mapped[bool] = mapped_column(Boolean, default=False)
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    invoice_due_days: Mapped[int] = mapped_column(Integer, default=14)
    # True: a booking paid by invoice is confirmed at once; False: held
    # until the money is recorded (at most until its day begins).
    invoice_confirms: Mapped[bool] = mapped_column(Boolean, default=True)
    account_holder: Mapped[str] = mapped_column(String(120), default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeEvent(Base):
    """Webhook events already applied: a redelivery finds its id here."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
