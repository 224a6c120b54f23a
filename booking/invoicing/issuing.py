"""Issuing invoices: one per sale, cancellations, and the companies' month.

The one path that gives out invoice numbers is ``issue``: it takes the next
number of the issuer's range with one ``UPDATE ... RETURNING`` on the
issuer's counter row, in the unit of work that writes the invoice. The row
stays locked until that unit commits (PostgreSQL row lock; SQLite's write
lock, taken up front by the unit of work), so two sales never get the same
number, and a unit that rolls back gives its number back: no gaps.

Receivers of ``events.sale_made`` / ``events.sale_reversed`` (booking/events.py)
run inside billing's unit of work: a sale never commits without its invoice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import events
from ..billing.models import Order, OrderKind, PaymentMethod
from ..billing.services.methods import walk_in_guest
from ..billing.services.periods import period_end
from ..bookings.models import Booking
from ..db import unit_of_work
from ..passes.models import Company, Pass
from .models import (
    Invoice,
    InvoiceCounter,
    InvoicedOrder,
    InvoiceKind,
    InvoiceLine,
    Issuer,
    IssuerLocation,
)

log = logging.getLogger(__name__)

BERLIN = ZoneInfo("Europe/Berlin")
SMALL_BUSINESS_NOTE = "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet."


def local_day(now: datetime) -> date:
    return now.astimezone(BERLIN).date()


def vat_of_gross(gross_cents: int, rate_bp: int) -> int:
    """VAT contained in a gross amount, rounded half away from zero to the cent
    (the rule of ``Order.vat_cents``)."""
    sign = -1 if gross_cents < 0 else 1
    amount = abs(gross_cents)
    return sign * (
        (amount * rate_bp * 2 + (10000 + rate_bp)) // (2 * (10000 + rate_bp))
    )


# --- issuers ---------------------------------------------------------------


def issuer_for_location(db: Session, location_id: int | None) -> Issuer | None:
    """The issuer of a location's sales; the network's default issuer for
    sales that belong to no location (or whose location has none)."""
    if location_id is not None:
        issuer = db.scalar(
            select(Issuer)
            .join(IssuerLocation, IssuerLocation.issuer_id == Issuer.id)
            .where(IssuerLocation.location_id == location_id)
        )
        if issuer is not None:
            return issuer
    return db.scalar(
        select(Issuer).where(Issuer.is_network_default.is_(True)).order_by(Issuer.id)
    )


def _next_number(db: Session, issuer: Issuer) -> tuple[int, str]:
    """The next number of the issuer's range; the counter row is locked until
    the unit of work ends."""
    sequence = db.execute(
        update(InvoiceCounter)
        .where(InvoiceCounter.issuer_id == issuer.id)
        .values(last_number=InvoiceCounter.last_number + 1)
        .returning(InvoiceCounter.last_number)
    ).scalar_one()
    return sequence, f"{issuer.number_prefix}{sequence:06d}"


# --- what is sold ----------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    name: str
    address: str = ""
    email: str = ""
    buyer_reference: str = ""
    is_public_body: bool = False
    user_id: int | None = None
    company_id: int | None = None


def recipient_of_company(company: Company) -> Recipient:
    return Recipient(
        name=company.name,
        address=company.billing_address,
        email=company.billing_email,
        buyer_reference=company.leitweg_id or company.order_reference,
        is_public_body=bool(company.leitweg_id),
        user_id=company.admin_user_id,
        company_id=company.id,
    )


def recipient_of_order(db: Session, order: Order) -> Recipient:
    if order.company_id is not None:
        company = db.get(Company, order.company_id)
        if company is not None:
            return recipient_of_company(company)
    if order.booking_id is not None:
        booking = db.get(Booking, order.booking_id)
        if booking is not None and walk_in_guest(db, booking):
            return Recipient(name=booking.guest_name, email=booking.guest_email or "")
    return Recipient(
        name=order.user.name,
        address=order.user.billing_address,
        email=order.user.email,
        user_id=order.user_id,
    )


def service_period(db: Session, order: Order) -> tuple[date, date]:
    """When the service of an order is rendered (§ 14 Abs. 4 Nr. 6 UStG)."""
    if order.booking_id is not None:
        booking = db.get(Booking, order.booking_id)
        if booking is not None:
            return booking.booked_on, booking.booked_on
    sold_on = local_day(order.created_at)
    if order.pass_id is not None:
        pass_ = db.get(Pass, order.pass_id)
        if pass_ is not None:
            if pass_.valid_until is not None:
                return pass_.valid_from, pass_.valid_until
            if order.kind in (OrderKind.MEMBERSHIP, OrderKind.COMPANY):
                # The period the order pays (billing's periods, anchored on
                # the membership's first day); a Stripe subscription's order
                # pays the period it was sold in.
                start = order.period_starts_on or max(pass_.valid_from, sold_on)
                return start, period_end(pass_.valid_from, start) - timedelta(days=1)
            return pass_.valid_from, pass_.valid_from
    return sold_on, sold_on


@dataclass(frozen=True)
class LineDraft:
    description: str
    service_from: date
    service_until: date
    gross_cents: int
    vat_rate_bp: int
    quantity: int = 1
    order_id: int | None = None


# --- the one path that issues ----------------------------------------------


def issue(
    db: Session,
    issuer: Issuer,
    *,
    kind: InvoiceKind,
    recipient: Recipient,
    lines: list[LineDraft],
    payment_method: str,
    now: datetime,
    location_id: int | None,
    cancels: Invoice | None = None,
    period: str | None = None,
    due_on: date | None = None,
) -> Invoice:
    """Number, snapshot and write one invoice (inside the caller's unit).
    Unpaid invoices are due on ``due_on`` (the order's, billing's rule), else
    after the issuer's payment terms."""
    sequence, number = _next_number(db, issuer)
    issued_on = local_day(now)
    account = _account(db, issuer, location_id)
    if kind == InvoiceKind.CANCELLATION or payment_method == PaymentMethod.STRIPE:
        due_on = None
    elif due_on is None:
        due_on = issued_on + timedelta(days=issuer.payment_terms_days)
    invoice = Invoice(
        issuer_id=issuer.id,
        sequence=sequence,
        number=number,
        kind=kind,
        cancels_id=cancels.id if cancels else None,
        user_id=recipient.user_id,
        company_id=recipient.company_id,
        location_id=location_id,
        period=period,
        issued_on=issued_on,
        service_from=min(line.service_from for line in lines),
        service_until=max(line.service_until for line in lines),
        due_on=due_on,
        payment_method=str(payment_method),
        currency="EUR",
        issuer_name=issuer.name,
        issuer_address=f"{issuer.street}\n{issuer.postcode} {issuer.city}",
        issuer_tax_number=issuer.tax_number,
        issuer_vat_id=issuer.vat_id,
        issuer_iban=account[0],
        issuer_bic=account[1],
        issuer_email=issuer.email,
        issuer_phone=issuer.phone,
        small_business=issuer.small_business,
        recipient_name=recipient.name,
        recipient_address=recipient.address,
        recipient_email=recipient.email,
        buyer_reference=recipient.buyer_reference,
        is_public_body=recipient.is_public_body,
        created_at=now,
        net_cents=0,
        vat_cents=0,
        gross_cents=0,
    )
    for position, draft in enumerate(lines, start=1):
        rate = 0 if issuer.small_business else draft.vat_rate_bp
        vat = vat_of_gross(draft.gross_cents, rate)
        invoice.lines.append(
            InvoiceLine(
                position=position,
                order_id=draft.order_id,
                description=draft.description[:300],
                service_from=draft.service_from,
                service_until=draft.service_until,
                quantity=draft.quantity,
                vat_rate_bp=rate,
                net_cents=draft.gross_cents - vat,
                vat_cents=vat,
                gross_cents=draft.gross_cents,
            )
        )
    invoice.gross_cents = sum(line.gross_cents for line in invoice.lines)
    # VAT per rate, computed on each rate's total (what the XML's tax
    # breakdown states), so the totals add up however many lines there are.
    invoice.vat_cents = sum(
        vat_of_gross(gross, rate) for rate, gross in gross_per_rate(invoice).items()
    )
    invoice.net_cents = invoice.gross_cents - invoice.vat_cents
    db.add(invoice)
    db.flush()
    log.info("invoice %s issued (%s, %s cents)", number, kind, invoice.gross_cents)
    events.send_after_commit(db, events.invoice_issued, invoice)
    return invoice


def _account(db: Session, issuer: Issuer, location_id: int | None) -> tuple[str, str]:
    """The account transfers go to: the location's own (billing's payment
    settings, the one its booking page names), else the issuer's."""
    from ..billing.services import payment_settings

    settings = payment_settings(db, location_id)
    if settings.iban:
        return settings.iban, settings.bic
    return issuer.iban, issuer.bic


def gross_per_rate(invoice: Invoice) -> dict[int, int]:
    totals: dict[int, int] = {}
    for line in invoice.lines:
        totals[line.vat_rate_bp] = totals.get(line.vat_rate_bp, 0) + line.gross_cents
    return totals


@dataclass(frozen=True)
class RateTotal:
    rate_bp: int
    gross: int
    vat: int

    @property
    def net(self) -> int:
        return self.gross - self.vat


def rate_breakdown(invoice: Invoice) -> list[tuple[int, RateTotal]]:
    """Net and VAT per rate (§ 14 Abs. 4 Nr. 7 and 8 UStG), rate by rate."""
    return [
        (rate, RateTotal(rate, gross, vat_of_gross(gross, rate)))
        for rate, gross in sorted(gross_per_rate(invoice).items())
    ]


def line_of_order(db: Session, order: Order) -> LineDraft:
    start, end = service_period(db, order)
    return LineDraft(
        description=order.description,
        service_from=start,
        service_until=end,
        gross_cents=order.amount_cents,
        vat_rate_bp=order.vat_rate_bp,
        order_id=order.id,
    )


def deferred_to_month(order: Order) -> bool:
    """A company's sale paid by transfer goes on its monthly invoice."""
    return (
        order.company_id is not None and order.payment_method == PaymentMethod.INVOICE
    )


def issue_for_order(db: Session, order: Order, *, now: datetime) -> Invoice | None:
    """The order's invoice, issued now unless it has one (idempotent). None
    when no issuer is set up for its location yet (the daily job issues it
    once there is one)."""
    done = db.get(InvoicedOrder, order.id)
    if done is not None:
        return db.get(Invoice, done.invoice_id)
    location_id = order.location_id
    if location_id is None and order.company_id is not None:
        company = db.get(Company, order.company_id)
        location_id = company.location_id if company else None
    issuer = issuer_for_location(db, location_id)
    if issuer is None:
        log.warning("order %s: no invoice issuer set up, invoice deferred", order.id)
        return None
    invoice = issue(
        db,
        issuer,
        kind=InvoiceKind.INVOICE,
        recipient=recipient_of_order(db, order),
        lines=[line_of_order(db, order)],
        payment_method=order.payment_method,
        now=now,
        location_id=location_id,
        due_on=order.due_on,
    )
    db.add(InvoicedOrder(order_id=order.id, invoice_id=invoice.id))
    db.flush()
    return invoice


def on_sale_made(order: Order, *, db: Session, now: datetime, **_: object) -> None:
    """``events.sale_made`` (inside billing's unit, which this joins): the
    sale's invoice."""
    if deferred_to_month(order):
        return
    with unit_of_work(db):
        issue_for_order(db, order, now=now)


def on_sale_reversed(
    order: Order, *, db: Session, now: datetime, amount_cents: int, **_: object
) -> None:
    """``events.sale_reversed``: a cancellation invoice (Stornorechnung) of
    ``amount_cents`` (gross) referencing the order's invoice. Never more
    than what is still invoiced for the order. Joins billing's unit."""
    with unit_of_work(db):
        done = db.get(InvoicedOrder, order.id)
        if done is None:
            return  # not invoiced (yet): a deferred company sale drops off its month
        original = db.get(Invoice, done.invoice_id)
        invoiced = sum(
            line.gross_cents for line in original.lines if line.order_id == order.id
        )
        cancelled = -(
            db.scalar(
                select(func.coalesce(func.sum(InvoiceLine.gross_cents), 0))
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .where(
                    Invoice.kind == InvoiceKind.CANCELLATION,
                    InvoiceLine.order_id == order.id,
                )
            )
            or 0
        )
        amount = min(int(amount_cents), invoiced - cancelled)
        if amount <= 0:
            return
        issuer = db.get(Issuer, original.issuer_id)
        source = next(line for line in original.lines if line.order_id == order.id)
        issue(
            db,
            issuer,
            kind=InvoiceKind.CANCELLATION,
            recipient=Recipient(
                name=original.recipient_name,
                address=original.recipient_address,
                email=original.recipient_email,
                buyer_reference=original.buyer_reference,
                is_public_body=original.is_public_body,
                user_id=original.user_id,
                company_id=original.company_id,
            ),
            lines=[
                LineDraft(
                    description=f"Storno zu {original.number}: {source.description}",
                    service_from=source.service_from,
                    service_until=source.service_until,
                    gross_cents=-amount,
                    vat_rate_bp=source.vat_rate_bp,
                    order_id=order.id,
                )
            ],
            payment_method=original.payment_method,
            now=now,
            location_id=original.location_id,
            cancels=original,
        )
