"""Who sees which invoice, and where an invoice stands (open, paid, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session, selectinload

from ..auth.models import Role, User
from ..billing.models import Order, OrderStatus
from ..errors import NotFound
from ..passes.models import Company
from ..spaces.services import managed_location_ids
from .models import Invoice, InvoiceKind, InvoiceLine


def visible_clause(db: Session, user: User):
    """Members their own, operators their locations', company admins their
    companies'; administrators all."""
    if user.role == Role.ADMIN:
        return None
    own = (Invoice.user_id == user.id) & Invoice.company_id.is_(None)
    clauses = [own]
    company_ids = list(
        db.scalars(select(Company.id).where(Company.admin_user_id == user.id))
    )
    if company_ids:
        clauses.append(Invoice.company_id.in_(company_ids))
    location_ids = managed_location_ids(db, user)
    if location_ids:
        clauses.append(Invoice.location_id.in_(location_ids))
    return or_(*clauses) if clauses else false()


def visible_invoices(
    db: Session,
    user: User,
    *,
    location_ids: list[int] | None = None,
    limit: int = 500,
) -> list[Invoice]:
    query = (
        select(Invoice)
        .options(selectinload(Invoice.lines))
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
        .limit(limit)
    )
    clause = visible_clause(db, user)
    if clause is not None:
        query = query.where(clause)
    if location_ids is not None:
        query = query.where(Invoice.location_id.in_(location_ids))
    return list(db.scalars(query))


def get_invoice_for(db: Session, user: User, invoice_id: int) -> Invoice:
    """The invoice if the user may see it; NotFound otherwise (an invoice of
    someone else is not told apart from one that does not exist)."""
    query = select(Invoice).where(Invoice.id == invoice_id)
    clause = visible_clause(db, user)
    if clause is not None:
        query = query.where(clause)
    invoice = db.scalar(query)
    if invoice is None:
        raise NotFound(_l("There is no such invoice."))
    return invoice


@dataclass(frozen=True)
class Standing:
    status: str  # open, overdue, paid, cancelled, cancellation
    open_cents: int


STATUS_LABELS = {
    "open": _l("open"),
    "overdue": _l("overdue"),
    "paid": _l("paid"),
    "cancelled": _l("cancelled"),
    "cancellation": _l("cancellation invoice"),
}


def standing(db: Session, invoice: Invoice, today: date) -> Standing:
    """Open is what the invoice's orders still owe, less cancellations."""
    if invoice.kind == InvoiceKind.CANCELLATION:
        return Standing("cancellation", 0)
    cancelled = -sum(
        db.scalars(
            select(InvoiceLine.gross_cents)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.cancels_id == invoice.id)
        )
    )
    if invoice.gross_cents > 0 and cancelled >= invoice.gross_cents:
        return Standing("cancelled", 0)
    unpaid = sum(order.open_cents for order in open_orders(db, invoice))
    open_cents = max(unpaid - cancelled, 0)
    if open_cents == 0:
        return Standing("paid", 0)
    if invoice.due_on is not None and invoice.due_on < today:
        return Standing("overdue", open_cents)
    return Standing("open", open_cents)


def open_orders(db: Session, invoice: Invoice) -> list[Order]:
    """The invoice's orders still waiting for their money, oldest first."""
    order_ids = [line.order_id for line in invoice.lines if line.order_id]
    if not order_ids:
        return []
    orders = db.scalars(
        select(Order)
        .options(selectinload(Order.offline_payments))
        .where(Order.id.in_(order_ids), Order.status == OrderStatus.PENDING)
        .order_by(Order.id)
    )
    return [order for order in orders if order.open_cents > 0]
