"""The month's invoices and payments for the tax adviser (CSV).

One line per invoice (cancellations included, with negative amounts) and one
per payment received: offline payments recorded by the operator, Stripe
payments and Stripe refunds of invoiced orders. Amounts in euros with a
decimal comma, the way German accounting software imports them; the
counter-account column is a hint in the SKR03 chart of accounts, for the
adviser to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..billing.models import OfflinePayment, Order, Payment, PaymentStatus
from ..csv_export import csv_text
from .issuing import BERLIN, rate_breakdown
from .models import Invoice, InvoicedOrder, InvoiceKind
from .queries import visible_clause

HEADER = (
    "Satzart",
    "Datum",
    "Belegnummer",
    "Bezug",
    "Aussteller",
    "Empfänger",
    "Netto 19 %",
    "USt 19 %",
    "Netto 7 %",
    "USt 7 %",
    "Steuerfrei / § 19",
    "Brutto",
    "Gegenkonto (Hinweis SKR03)",
    "Zahlungsart",
)
METHODS = {
    "stripe": "Karte/SEPA (Stripe)",
    "invoice": "Überweisung",
    "on_site": "vor Ort",
    "bank_transfer": "Überweisung",
    "cash": "bar",
    "card_on_site": "Karte vor Ort",
}
PAYMENT_ACCOUNTS = {
    "bank_transfer": "1200 Bank",
    "cash": "1000 Kasse",
    "card_on_site": "1360 Geldtransit",
    "stripe": "1360 Geldtransit (Stripe)",
}


def euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100},{cents % 100:02d}"


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _revenue_account(invoice: Invoice) -> str:
    if invoice.small_business:
        return "8195 Erlöse Kleinunternehmer § 19 UStG"
    rates = {line.vat_rate_bp for line in invoice.lines if line.gross_cents}
    if rates <= {1900}:
        return "8400 Erlöse 19 % USt"
    if rates <= {700}:
        return "8300 Erlöse 7 % USt"
    return "8400/8300 Erlöse (aufteilen)"


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        year, month = (int(part) for part in text.split("-"))
        return cls(year, month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def after(self) -> date:
        return date(self.year + (self.month == 12), self.month % 12 + 1, 1)

    def instants(self) -> tuple[datetime, datetime]:
        return (
            datetime(self.first.year, self.first.month, 1, tzinfo=BERLIN),
            datetime(self.after.year, self.after.month, 1, tzinfo=BERLIN),
        )


def _invoice_row(invoice: Invoice) -> list:
    per_rate = {rate: total for rate, total in rate_breakdown(invoice)}
    standard, reduced = per_rate.get(1900), per_rate.get(700)
    exempt = sum(
        total.gross
        for rate, total in per_rate.items()
        if rate == 0 or invoice.small_business
    )
    kind = {
        InvoiceKind.CANCELLATION: "Stornorechnung",
        InvoiceKind.COLLECTIVE: "Sammelrechnung",
    }.get(InvoiceKind(invoice.kind), "Rechnung")
    return [
        kind,
        _day(invoice.issued_on),
        invoice.number,
        invoice.cancels.number if invoice.cancels else invoice.buyer_reference,
        invoice.issuer_name,
        invoice.recipient_name,
        euros(standard.net) if standard and not invoice.small_business else "",
        euros(standard.vat) if standard and not invoice.small_business else "",
        euros(reduced.net) if reduced and not invoice.small_business else "",
        euros(reduced.vat) if reduced and not invoice.small_business else "",
        euros(exempt) if exempt else "",
        euros(invoice.gross_cents),
        _revenue_account(invoice),
        METHODS.get(invoice.payment_method, invoice.payment_method),
    ]


def _payment_row(day: date, invoice: Invoice, kind: str, cents: int, what: str):
    return [
        what,
        _day(day),
        invoice.number,
        invoice.number,
        invoice.issuer_name,
        invoice.recipient_name,
        "",
        "",
        "",
        "",
        "",
        euros(cents),
        PAYMENT_ACCOUNTS.get(kind, ""),
        METHODS.get(kind, kind),
    ]


def month_rows(
    db: Session, user: User, month: Month, *, location_ids: list[int] | None = None
) -> list[tuple[date, int, list]]:
    """(date, order, row) of the invoices issued and the money moved in the
    month, of the invoices the user may see."""
    clause = visible_clause(db, user)
    scope = [clause] if clause is not None else []
    if location_ids is not None:
        scope.append(Invoice.location_id.in_(location_ids))
    rows: list[tuple[date, int, list]] = []
    for invoice in db.scalars(
        select(Invoice).where(
            Invoice.issued_on >= month.first, Invoice.issued_on < month.after, *scope
        )
    ):
        rows.append((invoice.issued_on, 0, _invoice_row(invoice)))
    start, end = month.instants()
    offline = db.execute(
        select(OfflinePayment, Invoice)
        .join(InvoicedOrder, InvoicedOrder.order_id == OfflinePayment.order_id)
        .join(Invoice, Invoice.id == InvoicedOrder.invoice_id)
        .where(
            OfflinePayment.paid_on >= month.first,
            OfflinePayment.paid_on < month.after,
            *scope,
        )
    ).all()
    for payment, invoice in offline:
        rows.append(
            (
                payment.paid_on,
                1,
                _payment_row(
                    payment.paid_on,
                    invoice,
                    payment.kind,
                    payment.amount_cents,
                    "Zahlung",
                ),
            )
        )
    stripe = db.execute(
        select(Payment, Order, Invoice)
        .join(Order, Order.id == Payment.order_id)
        .join(InvoicedOrder, InvoicedOrder.order_id == Order.id)
        .join(Invoice, Invoice.id == InvoicedOrder.invoice_id)
        .where(
            Payment.status.in_(
                (
                    PaymentStatus.SUCCEEDED,
                    PaymentStatus.REFUND_DUE,
                    PaymentStatus.REFUNDED,
                )
            ),
            Order.paid_at >= start,
            Order.paid_at < end,
            *scope,
        )
    ).all()
    for payment, order, invoice in stripe:
        day = order.paid_at.astimezone(BERLIN).date()
        rows.append(
            (
                day,
                1,
                _payment_row(day, invoice, "stripe", payment.amount_cents, "Zahlung"),
            )
        )
    refunds = db.execute(
        select(Payment, Invoice)
        .join(InvoicedOrder, InvoicedOrder.order_id == Payment.order_id)
        .join(Invoice, Invoice.id == InvoicedOrder.invoice_id)
        .where(
            Payment.refunded_cents > 0,
            Payment.updated_at >= start,
            Payment.updated_at < end,
            *scope,
        )
    ).all()
    for payment, invoice in refunds:
        day = payment.updated_at.astimezone(BERLIN).date()
        rows.append(
            (
                day,
                2,
                _payment_row(
                    day, invoice, "stripe", -payment.refunded_cents, "Erstattung"
                ),
            )
        )
    rows.sort(key=lambda item: (item[0], item[1], item[2][2]))
    return rows


def month_csv(
    db: Session, user: User, month: Month, *, location_ids: list[int] | None = None
) -> str:
    rows = month_rows(db, user, month, location_ids=location_ids)
    return csv_text(HEADER, (row for _day, _order, row in rows))
