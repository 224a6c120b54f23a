"""Invoices: issuers (a location's operator), their number ranges, invoices.

An invoice is a snapshot: the issuer's and the recipient's data, the lines
and the totals are copied when it is issued and never change afterwards
(GoBD). A mistake is corrected by a cancellation invoice that references the
original (``cancels_id``).
"""

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"  # one sale
    COLLECTIVE = "collective"  # a company's month (Sammelrechnung)
    CANCELLATION = "cancellation"  # Stornorechnung of an earlier invoice


class Issuer(Base):
    """Who issues the invoices of some locations: their operator, set up once."""

    __tablename__ = "invoice_issuers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    tax_number: Mapped[str] = mapped_column(String(40), default="")  # Steuernummer
    vat_id: Mapped[str] = mapped_column(String(20), default="")  # USt-IdNr.
    # Kleinunternehmer (§ 19 UStG): no VAT on the invoices, with the note.
    small_business: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=14)
    # The number range: "RE-" gives RE-000001, RE-000002, ...
    number_prefix: Mapped[str] = mapped_column(String(12), default="RE-")
    # Issues the invoices of sales that belong to no location (network plans).
    is_network_default: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssuerLocation(Base):
    """A location's issuer: at most one per location."""

    __tablename__ = "invoice_issuer_locations"

    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    issuer_id: Mapped[int] = mapped_column(
        ForeignKey("invoice_issuers.id", ondelete="CASCADE"), index=True
    )


class InvoiceCounter(Base):
    """The last number an issuer gave out. Incremented by one UPDATE in the
    unit of work that writes the invoice, so the row stays locked until the
    invoice commits: numbers have no gaps and no duplicates."""

    __tablename__ = "invoice_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="not_negative"),)

    issuer_id: Mapped[int] = mapped_column(
        ForeignKey("invoice_issuers.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("issuer_id", "sequence"),
        UniqueConstraint("issuer_id", "number"),
        # One collective invoice per company and month.
        UniqueConstraint("company_id", "period"),
        Index(None, "user_id"),
        Index(None, "location_id"),
        Index(None, "issued_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("invoice_issuers.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[InvoiceKind] = mapped_column(String(12))
    cancels_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    # Whose it is: the member who bought, or the company (collective ones).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL")
    )
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    period: Mapped[str | None] = mapped_column(String(7))  # collective: 2026-11
    issued_on: Mapped[date] = mapped_column(Date)
    service_from: Mapped[date] = mapped_column(Date)
    service_until: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    net_cents: Mapped[int] = mapped_column(Integer)
    vat_cents: Mapped[int] = mapped_column(Integer)
    gross_cents: Mapped[int] = mapped_column(Integer)
    # The issuer as it was (GoBD: the invoice never changes).
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_address: Mapped[str] = mapped_column(Text)  # "street\npostcode city"
    issuer_tax_number: Mapped[str] = mapped_column(String(40))
    issuer_vat_id: Mapped[str] = mapped_column(String(20))
    issuer_iban: Mapped[str] = mapped_column(String(34))
    issuer_bic: Mapped[str] = mapped_column(String(11))
    issuer_email: Mapped[str] = mapped_column(String(254))
    issuer_phone: Mapped[str] = mapped_column(String(40), default="")
    small_business: Mapped[bool] = mapped_column(Boolean)
    # The recipient as it was.
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_address: Mapped[str] = mapped_column(Text, default="")
    recipient_email: Mapped[str] = mapped_column(String(254), default="")
    # BT-10: the Leitweg-ID of a public body, else the buyer's order reference.
    buyer_reference: Mapped[str] = mapped_column(String(60), default="")
    is_public_body: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    cancels: Mapped[Invoice | None] = relationship(remote_side=[id])


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (Index(None, "invoice_id"), Index(None, "order_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    description: Mapped[str] = mapped_column(String(300))
    service_from: Mapped[date] = mapped_column(Date)
    service_until: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)  # 1900 = 19 %, 0 under § 19
    net_cents: Mapped[int] = mapped_column(Integer)
    vat_cents: Mapped[int] = mapped_column(Integer)
    gross_cents: Mapped[int] = mapped_column(Integer)


class InvoicedOrder(Base):
    """An order's one invoice (individual or collective): the primary key
    makes a second invoice of the same sale impossible, whatever retries."""

    __tablename__ = "invoiced_orders"

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
