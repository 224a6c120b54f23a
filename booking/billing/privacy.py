"""Billing and personal data (see docs/reports.md).

Export: a member's orders with their payments, and the invoices among them.
Deletion: orders and payments stay, because invoices and the records behind
them must be kept for 8 years (§147 AO, §14b UStG). The invoice documents
themselves are Stripe's (Checkout and subscriptions create them with the
recipient's name, as §14 UStG requires) and are found from our rows by their
Stripe ids, which we keep. What the law does not need goes: unpaid orders are
closed, checkout links dropped, and the Stripe customer loses name and e-mail
(finalised invoices keep their own copy). Locally the rows then point to the
anonymised account only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..db import on_commit, utcnow
from ..errors import BookingConflict
from ..passes.models import Pass, PassStatus
from ..privacy import services as privacy
from . import stripe_client
from .models import BillingCustomer, Order, OrderStatus, Payment, PaymentStatus
from .services.checkout import _close_unpaid
from .stripe_client import StripeRejected, StripeUnavailable

log = logging.getLogger(__name__)

_INVOICED = (OrderStatus.PAID, OrderStatus.REFUNDED)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _order(order: Order) -> dict:
    return {
        "id": order.id,
        "kind": order.kind,
        "description": order.description,
        "location_id": order.location_id,
        "booking_id": order.booking_id,
        "pass_id": order.pass_id,
        "amount_cents": order.amount_cents,
        "currency": order.currency,
        "vat_rate_bp": order.vat_rate_bp,
        "vat_cents": order.vat_cents,
        "status": order.status,
        "created_at": _iso(order.created_at),
        "paid_at": _iso(order.paid_at),
        "closed_at": _iso(order.closed_at),
        "payments": [
            {
                "id": p.id,
                "status": p.status,
                "amount_cents": p.amount_cents,
                "refunded_cents": p.refunded_cents,
                "stripe_invoice_id": p.stripe_invoice_id,
                "created_at": _iso(p.created_at),
                "updated_at": _iso(p.updated_at),
            }
            for p in order.payments
        ],
    }


def _orders(db: Session, user: User, location_id: int | None = None) -> list[Order]:
    query = select(Order).where(Order.user_id == user.id).order_by(Order.id)
    if location_id is not None:
        query = query.where(Order.location_id == location_id)
    return list(db.scalars(query))


def export_orders(db: Session, user: User) -> list[dict]:
    return [_order(order) for order in _orders(db, user)]


def export_invoices(db: Session, user: User) -> list[dict]:
    """The paid orders: what an invoice was issued for, kept 8 years."""
    return [
        {
            "order_id": order.id,
            "description": order.description,
            "amount_cents": order.amount_cents,
            "vat_cents": order.vat_cents,
            "currency": order.currency,
            "paid_at": _iso(order.paid_at),
            "status": order.status,
            "stripe_invoice_ids": [
                p.stripe_invoice_id for p in order.payments if p.stripe_invoice_id
            ],
        }
        for order in _orders(db, user)
        if order.status in _INVOICED
    ]


def orders_at(db: Session, user: User, location_id: int) -> list[dict]:
    """A member's orders at one location (for its operators)."""
    return [_order(order) for order in _orders(db, user, location_id)]


def _scrub_customer_later(customer_id: str) -> Callable[[], None]:
    def run() -> None:
        try:
            stripe_client.scrub_customer(customer_id)
        except (StripeUnavailable, StripeRejected) as error:
            log.warning("could not scrub Stripe customer %s: %s", customer_id, error)

    return run


def erase_billing(db: Session, user: User) -> None:
    """Account deletion (inside its unit of work): keep invoices and payments,
    close what was never paid, detach the rest. Raises BookingConflict while a
    membership still renews (it would go on charging a deleted account)."""
    now = utcnow()
    renewing = db.scalar(
        select(Pass.id).where(
            Pass.user_id == user.id,
            # Through Stripe, or by transfer / on site (renewed here).
            or_(
                Pass.stripe_subscription_id.is_not(None),
                Pass.current_period_end.is_not(None),
            ),
            Pass.status.in_([PassStatus.ACTIVE, PassStatus.PAST_DUE]),
            Pass.cancel_at_period_end.is_(False),
        )
    )
    if renewing is not None:
        raise BookingConflict(
            _l(
                "Your membership still renews: cancel it first (it ends with "
                "the current month), then delete your account."
            )
        )
    for order in db.scalars(
        select(Order).where(
            Order.user_id == user.id, Order.status == OrderStatus.PENDING
        )
    ):
        _close_unpaid(db, order, now=now, status=PaymentStatus.CANCELLED)
    db.execute(
        update(Payment)
        .where(
            Payment.order_id.in_(select(Order.id).where(Order.user_id == user.id)),
            Payment.checkout_url.is_not(None),
        )
        .values(checkout_url=None)
        .execution_options(synchronize_session=False)
    )
    customer = db.scalar(
        select(BillingCustomer.stripe_customer_id).where(
            BillingCustomer.user_id == user.id
        )
    )
    if customer is not None:
        on_commit(db, _scrub_customer_later(customer))


def register_privacy() -> None:
    privacy.EXPORTERS["orders"] = export_orders
    privacy.EXPORTERS["invoices"] = export_invoices
    privacy.LOCATION_VIEWS["orders"] = orders_at
    privacy.add_hook(privacy.ERASERS, erase_billing)
