"""Who sees which invoice, and where an invoice stands (open, paid, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select
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


def standing(db: Session, invoice: Invoice, today: date) -> Standing:
    return standings(db, [invoice], today)[invoice.id]


def standings(db: Session, invoices: list[Invoice], today: date) -> dict[int, Standing]:
    """Where each invoice stands, in three queries whatever their number.
    Open is what its orders still owe (an order taken back is no longer
    pending); cancelled when cancellation invoices cover it."""
    ids = [invoice.id for invoice in invoices]
    cancelled: dict[int, int] = {}
    if ids:
        for cancels_id, total in db.execute(
            select(Invoice.cancels_id, func.sum(InvoiceLine.gross_cents))
            .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
            .where(Invoice.cancels_id.in_(ids))
            .group_by(Invoice.cancels_id)
        ):
            cancelled[cancels_id] = -int(total or 0)
    owed = _open_cents_by_order(
        db, [line.order_id for i in invoices for line in i.lines if line.order_id]
    )
    result: dict[int, Standing] = {}
    for invoice in invoices:
        if invoice.kind == InvoiceKind.CANCELLATION:
            result[invoice.id] = Standing("cancellation", 0)
            continue
        if 0 < invoice.gross_cents <= cancelled.get(invoice.id, 0):
            result[invoice.id] = Standing("cancelled", 0)
            continue
        open_cents = sum(owed.get(line.order_id, 0) for line in invoice.lines)
        if open_cents == 0:
            status = "paid"
        elif invoice.due_on is not None and invoice.due_on < today:
            status = "overdue"
        else:
            status = "open"
        result[invoice.id] = Standing(status, open_cents)
    return result


def _open_cents_by_order(db: Session, order_ids: list[int]) -> dict[int, int]:
    if not order_ids:
        return {}
    orders = db.scalars(
        select(Order)
        .options(selectinload(Order.offline_payments))
        .where(Order.id.in_(order_ids), Order.status == OrderStatus.PENDING)
    )
    return {order.id: order.open_cents for order in orders}


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
