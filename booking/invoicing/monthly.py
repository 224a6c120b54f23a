"""The companies' monthly invoices and the invoices that waited for their
issuer: what the ``issue-invoices`` job does (booking/ops/jobs.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..billing.models import Order, OrderStatus, PaymentMethod
from ..bookings.models import Booking
from ..db import unit_of_work
from ..passes.models import Company, CreditEntry, Pass
from .issuing import (
    BERLIN,
    LineDraft,
    deferred_to_month,
    issue,
    issue_for_order,
    issuer_for_location,
    line_of_order,
    local_day,
    recipient_of_company,
)
from .models import Invoice, InvoicedOrder, InvoiceKind

# --- the companies' month and late invoices ---------------------------------


def _month_bounds(period: str) -> tuple[datetime, datetime]:
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=BERLIN)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=BERLIN)
    return start, end


def previous_period(now: datetime) -> str:
    first = local_day(now).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


SOLD = (OrderStatus.PENDING, OrderStatus.PAID)


def issue_company_month(
    db: Session, company_id: int, period: str, *, now: datetime
) -> Invoice | None:
    """The company's one invoice for ``period`` ("2026-11"): its sales of the
    month paid by transfer, with its people's desk-days as lines at no
    charge. Idempotent: a second call finds the first invoice."""
    with unit_of_work(db):
        existing = db.scalar(
            select(Invoice).where(
                Invoice.company_id == company_id,
                Invoice.period == period,
                Invoice.kind == InvoiceKind.COLLECTIVE,
            )
        )
        if existing is not None:
            return existing
        company = db.get(Company, company_id)
        if company is None:
            return None
        start, end = _month_bounds(period)
        orders = list(
            db.scalars(
                select(Order)
                .outerjoin(InvoicedOrder, InvoicedOrder.order_id == Order.id)
                .where(
                    Order.company_id == company_id,
                    Order.payment_method == PaymentMethod.INVOICE,
                    Order.status.in_(SOLD),
                    Order.created_at >= start,
                    Order.created_at < end,
                    InvoicedOrder.order_id.is_(None),
                )
                .order_by(Order.id)
            )
        )
        if not orders:
            return None
        issuer = issuer_for_location(db, company.location_id)
        if issuer is None:
            return None
        lines = [line_of_order(db, order) for order in orders]
        lines += _usage_lines(db, company_id, start.date(), end.date())
        invoice = issue(
            db,
            issuer,
            kind=InvoiceKind.COLLECTIVE,
            recipient=recipient_of_company(company),
            lines=lines,
            payment_method=PaymentMethod.INVOICE,
            now=now,
            location_id=company.location_id,
            period=period,
        )
        for order in orders:
            db.add(InvoicedOrder(order_id=order.id, invoice_id=invoice.id))
        db.flush()
        return invoice


def _usage_lines(
    db: Session, company_id: int, first: date, after: date
) -> list[LineDraft]:
    """Desk-days the company's people used in the month, per person (shown
    on the invoice at no charge: they are paid by the budget)."""
    rows = db.execute(
        select(User.name, func.count(), func.min(CreditEntry.booked_on))
        .select_from(CreditEntry)
        .join(Pass, Pass.id == CreditEntry.pass_id)
        .join(Booking, Booking.id == CreditEntry.booking_id)
        .join(User, User.id == Booking.user_id)
        .where(
            Pass.company_id == company_id,
            CreditEntry.unit == "day",
            CreditEntry.delta < 0,
            CreditEntry.booked_on >= first,
            CreditEntry.booked_on < after,
        )
        .group_by(User.name)
        .order_by(User.name)
    ).all()
    last = after - timedelta(days=1)
    return [
        LineDraft(
            description=f"Nutzung: {name}, Schreibtischtage",
            service_from=first,
            service_until=last,
            gross_cents=0,
            vat_rate_bp=1900,
            quantity=int(days),
        )
        for name, days, _first in rows
    ]


# How far back the job looks for sales that waited for their issuer: enough
# for an operator to enter the details, not so far that setting them up
# would invoice years of old sales.
LATE_WINDOW = timedelta(days=62)


def issue_due_invoices(db: Session, *, now: datetime) -> dict[str, int]:
    """The periodic job: last month's company invoices, and the invoices of
    the recent sales made while their location had no issuer yet."""
    period = previous_period(now)
    start, end = _month_bounds(period)
    company_ids = db.scalars(
        select(Order.company_id)
        .outerjoin(InvoicedOrder, InvoicedOrder.order_id == Order.id)
        .where(
            Order.company_id.is_not(None),
            Order.payment_method == PaymentMethod.INVOICE,
            Order.status.in_(SOLD),
            Order.created_at >= start,
            Order.created_at < end,
            InvoicedOrder.order_id.is_(None),
        )
        .distinct()
    ).all()
    companies = 0
    for company_id in company_ids:
        if issue_company_month(db, company_id, period, now=now) is not None:
            companies += 1
    late = 0
    missing = db.scalars(
        select(Order.id)
        .outerjoin(InvoicedOrder, InvoicedOrder.order_id == Order.id)
        .where(
            InvoicedOrder.order_id.is_(None),
            Order.created_at >= now - LATE_WINDOW,
            ~(
                Order.company_id.is_not(None)
                & (Order.payment_method == PaymentMethod.INVOICE)
            ),
            (Order.status == OrderStatus.PAID)
            | (
                (Order.status == OrderStatus.PENDING)
                & (Order.payment_method != PaymentMethod.STRIPE)
            ),
        )
        .order_by(Order.id)
    ).all()
    for order_id in missing:
        with unit_of_work(db):
            order = db.get(Order, order_id)
            if deferred_to_month(order):
                continue
            if issue_for_order(db, order, now=now) is not None:
                late += 1
    return {"company_invoices": companies, "late_invoices": late}
