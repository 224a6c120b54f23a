"""Stripe customers and Checkout, and the holds that run out unpaid."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking, BookingSlot, BookingStatus
from ...db import on_commit, unit_of_work, utcnow
from ...errors import BookingConflict
from ...passes.models import Company, Pass, PassStatus
from ...passes.queries import free_desk_of
from .. import stripe_client
from ..models import (
    BillingCustomer,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from ..stripe_client import StripeRejected, StripeUnavailable
from .fulfil import expire_session_later, reverse_sale, was_sold
from .methods import check_billing_address, check_method
from .orders import (
    CHECKOUT_LIFETIME,
    PaymentRejected,
    PaymentUnavailable,
    _current_payment,
    _key,
    get_order_for,
    order_for_booking,
)

log = logging.getLogger(__name__)


def ensure_customer(db: Session, *, user: User | None = None, company=None) -> str:
    """The Stripe customer of a member or company, created once."""
    column = BillingCustomer.user_id if user else BillingCustomer.company_id
    holder_id = user.id if user else company.id
    existing = db.scalar(select(BillingCustomer).where(column == holder_id))
    if existing is not None:
        return existing.stripe_customer_id
    db.commit()  # end the read transaction: no transaction spans a Stripe call
    if user is not None:
        created = stripe_client.create_customer(
            email=user.email,
            name=user.name or user.email,
            metadata={"user_id": str(user.id)},
            idempotency_key=_key(f"customer-user-{user.id}"),
        )
    else:
        created = stripe_client.create_customer(
            email=company.billing_email or company.admin.email,
            name=company.name,
            metadata={"company_id": str(company.id)},
            idempotency_key=_key(f"customer-company-{company.id}"),
        )
    try:
        with unit_of_work(db):
            db.add(
                BillingCustomer(
                    user_id=user.id if user else None,
                    company_id=None if user else company.id,
                    stripe_customer_id=created["id"],
                )
            )
    except IntegrityError:
        # A parallel request stored it first (the same idempotency key gave
        # both the same Stripe customer).
        pass
    return db.scalar(
        select(BillingCustomer).where(column == holder_id)
    ).stripe_customer_id


def start_checkout(
    db: Session,
    actor: User,
    order_id: int,
    *,
    success_url: str,
    cancel_url: str,
    now: datetime | None = None,
) -> str:
    """The Stripe Checkout URL for a pending order, creating it if needed.

    Safe to repeat: the same payment row gives the same idempotency key, so a
    retry after a timeout never opens a second charge. Raises NotFound,
    BookingConflict (no longer payable), PaymentUnavailable, PaymentRejected.
    """
    now = now or utcnow()
    order = get_order_for(db, actor, order_id)
    payment = _current_payment(order)
    if order.status != OrderStatus.PENDING or payment is None:
        raise BookingConflict(_l("This order is no longer waiting for payment."))
    if order.payment_method != PaymentMethod.STRIPE:
        raise BookingConflict(_l("This order is not paid online."))
    if order.booking_id is not None:
        booking = db.get(Booking, order.booking_id)
        if booking is None or booking.status != BookingStatus.PENDING_PAYMENT:
            raise BookingConflict(_l("The hold on this booking has ended."))
        if booking.hold_expires_at and booking.hold_expires_at <= now:
            raise BookingConflict(_l("The hold on this booking has ended."))
    elif order.hold_until and order.hold_until <= now:
        raise BookingConflict(_l("This order is no longer waiting for payment."))
    if payment.checkout_url:
        return payment.checkout_url
    check_method(
        db, order.location_id, OrderKind(order.kind), PaymentMethod.STRIPE.value
    )
    # Paid, the order is invoiced at once (invoicing): with the address.
    check_billing_address(db, order)
    company = None
    if order.company_id:
        company = db.get(Company, order.company_id)
    try:
        customer = ensure_customer(
            db, user=None if company else order.user, company=company
        )
        session = stripe_client.create_checkout_session(
            _checkout_params(order, customer, success_url, cancel_url, now),
            idempotency_key=_key(f"order-{order.id}-payment-{payment.id}"),
        )
    except StripeUnavailable:
        log.warning("Stripe unreachable starting checkout for order %s", order.id)
        raise PaymentUnavailable() from None
    except StripeRejected as error:
        log.error("Stripe refused checkout for order %s: %s", order.id, error)
        raise PaymentRejected() from None
    with unit_of_work(db):
        payment = db.get(Payment, payment.id)
        payment.stripe_checkout_session_id = session["id"]
        payment.checkout_url = session.get("url")
        payment.updated_at = now
        if payment.order.booking_id is None:
            # Held while its Checkout Session can still be paid; a booking's
            # hold stays short and expire_holds closes the session.
            payment.order.hold_until = now + CHECKOUT_LIFETIME
    return payment.checkout_url or ""


def _checkout_params(
    order: Order, customer: str, success_url: str, cancel_url: str, now: datetime
) -> dict[str, Any]:
    recurring = order.kind in (OrderKind.MEMBERSHIP, OrderKind.COMPANY)
    price_data: dict[str, Any] = {
        "currency": order.currency.lower(),
        "unit_amount": order.amount_cents,
        "product_data": {"name": order.description},
        "tax_behavior": "inclusive",
    }
    metadata = {"order_id": str(order.id)}
    params: dict[str, Any] = {
        "mode": "subscription" if recurring else "payment",
        "customer": customer,
        "client_reference_id": str(order.id),
        "metadata": metadata,
        "line_items": [{"quantity": 1, "price_data": price_data}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int((now + CHECKOUT_LIFETIME).timestamp()),
    }
    if recurring:
        price_data["recurring"] = {"interval": "month"}
        params["payment_method_types"] = ["card", "sepa_debit"]
        params["subscription_data"] = {
            "metadata": {**metadata, "pass_id": str(order.pass_id)}
        }
    else:
        # Same-day entry comes before a SEPA debit would settle: cards only.
        params["payment_method_types"] = ["card"]
        params["payment_intent_data"] = {"metadata": metadata}
        params["invoice_creation"] = {"enabled": True}
    return params


# --- releasing holds -----


def _release(
    db: Session, booking: Booking, *, now: datetime, expire_session: bool
) -> None:
    """Free a held booking's slots and close its order (inside a unit)."""
    db.execute(delete(BookingSlot).where(BookingSlot.booking_id == booking.id))
    booking.status = BookingStatus.EXPIRED
    booking.hold_expires_at = None
    booking.sequence += 1
    order = order_for_booking(db, booking.id)
    if order is None or order.status != OrderStatus.PENDING:
        return
    _cancel_order(db, order, now=now)
    payment = _current_payment(order)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.CANCELLED
        payment.updated_at = now
        if expire_session and payment.stripe_checkout_session_id:
            on_commit(db, expire_session_later(payment.stripe_checkout_session_id))


def release_expired_holds(
    db: Session,
    now: datetime,
    *,
    resource_id: int | None = None,
    user_id: int | None = None,
) -> int:
    """Inside a unit: release holds that ran out (optionally only those on a
    resource or of a person). Returns how many were released."""
    query = select(Booking).where(
        Booking.status == BookingStatus.PENDING_PAYMENT,
        Booking.hold_expires_at <= now,
    )
    if resource_id is not None or user_id is not None:
        query = query.where(
            or_(Booking.resource_id == resource_id, Booking.user_id == user_id)
        )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    bookings = list(db.scalars(query.limit(500)))
    for booking in bookings:
        _release(db, booking, now=now, expire_session=True)
    return len(bookings)


def close_expired_orders(db: Session, now: datetime) -> int:
    """Inside a unit: close pending orders without a booking (day passes,
    packs, memberships) whose hold ran out unpaid; their pending pass
    expires. Returns how many were closed."""
    query = select(Order).where(
        Order.status == OrderStatus.PENDING,
        Order.booking_id.is_(None),
        Order.hold_until <= now,
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    orders = list(db.scalars(query.limit(500)))
    for order in orders:
        _close_unpaid(db, order, now=now, status=PaymentStatus.CANCELLED)
    return len(orders)


def expire_holds(db: Session, now: datetime | None = None) -> int:
    """Release every unpaid hold that ran out. Idempotent; for cron."""
    now = now or utcnow()
    with unit_of_work(db):
        return release_expired_holds(db, now) + close_expired_orders(db, now)


def abandon_checkout(db: Session, actor: User, order_id: int, *, now=None) -> None:
    """The person went back from Stripe without paying: release now."""
    now = now or utcnow()
    with unit_of_work(db):
        order = get_order_for(db, actor, order_id)
        if order.status != OrderStatus.PENDING:
            return
        if order.booking_id is not None:
            booking = db.get(Booking, order.booking_id)
            if booking is not None and booking.status == BookingStatus.PENDING_PAYMENT:
                _release(db, booking, now=now, expire_session=True)
                return
        _close_unpaid(db, order, now=now, status=PaymentStatus.CANCELLED)


def _close_unpaid(
    db: Session, order: Order, *, now: datetime, status: PaymentStatus
) -> None:
    payment = _current_payment(order)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = status
        payment.updated_at = now
        if payment.stripe_checkout_session_id:
            on_commit(db, expire_session_later(payment.stripe_checkout_session_id))
    if order.status == OrderStatus.PENDING:
        _cancel_order(db, order, now=now)
    if order.pass_id:
        pass_ = db.get(Pass, order.pass_id)
        if pass_ is not None and pass_.status == PassStatus.PENDING:
            pass_.status = PassStatus.EXPIRED
            free_desk_of(db, pass_)


def _cancel_order(db: Session, order: Order, *, now: datetime) -> None:
    """An open order closes unpaid. An invoice or on-site order was already
    a sale: invoicing cancels its invoice."""
    order.status = OrderStatus.CANCELLED
    order.closed_at = now
    if was_sold(order):
        reverse_sale(db, order, now=now, amount_cents=order.amount_cents)
