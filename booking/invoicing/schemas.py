"""The /api/v1 contract of invoices (booking/api/contract.py)."""

from __future__ import annotations

from typing import Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field

from ..api.contract import Answer, Day, Schema
from ..api.schemas import DateText, Id


class InvoiceQuery(Schema):
    location_id: str | None = Field(
        default=None, description="only the invoices of this location"
    )


class ExportQuery(Schema):
    messages = {"month": _l("Choose a month (YYYY-MM).")}
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    location_id: str | None = None


class PaymentRecord(Schema):
    messages = {
        "amount_cents": _l("Give the amount in cents."),
        "kind": _l("Choose how the money was paid."),
        "paid_on": _l("Give the day the money came in."),
    }
    amount_cents: int = Field(strict=True, gt=0, le=100_000_000)
    kind: Literal["bank_transfer", "cash", "card_on_site"]
    paid_on: DateText
    idempotency_key: str | None = Field(
        default=None,
        max_length=80,
        description="repeat a request with the same key: recorded once",
    )


class InvoiceLine(Answer):
    position: int
    description: str
    service_from: Day
    service_until: Day
    quantity: int
    vat_rate_bp: int = Field(description="1900 is 19 %; 0 under § 19 UStG")
    net_cents: int
    vat_cents: int
    gross_cents: int


class Invoice(Answer):
    id: Id
    number: str
    kind: Literal["invoice", "collective", "cancellation"]
    status: Literal["open", "overdue", "paid", "cancelled", "cancellation"]
    open_cents: int
    issued_on: Day
    service_from: Day
    service_until: Day
    due_on: Day | None = None
    payment_method: str
    currency: str
    net_cents: int
    vat_cents: int
    gross_cents: int
    small_business: bool
    issuer_name: str
    recipient_name: str
    buyer_reference: str
    location_id: Id | None = None
    company_id: Id | None = None
    cancels_id: Id | None = None
    period: str | None = None
    lines: list[InvoiceLine]
    pdf: str = Field(description="the PDF/A-3 with the EN 16931 XML embedded")
    xrechnung: str = Field(description="the XRechnung (CII) XML")
