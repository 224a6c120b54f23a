"""Fulfilling an order, whichever way its money came: the one rule.

A Stripe payment (webhook or reconcile) and the payments an operator records
by hand (bank transfer, cash, card terminal) all end in ``fulfil_order``: the
order turns paid, a held booking is confirmed, a pending pass turns active.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import events
from ...bookings import notices
from ...bookings.models import Booking, BookingStatus
from ...passes.models import Pass, PassStatus
from .. import stripe_client
from ..models import Order, OrderStatus, PaymentMethod
from ..stripe_client import StripeRejected, StripeUnavailable

log = logging.getLogger(__name__)


def lock_booking(db: Session, booking_id: int) -> Booking | None:
    query = select(Booking).where(Booking.id == booking_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalar(query)


def lock_order(db: Session, order_id: int) -> Order | None:
    """The order, locked for this unit on PostgreSQL (two payments arriving
    at once settle one after the other)."""
    query = select(Order).where(Order.id == order_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalar(query)


def can_fulfil(db: Session, order: Order) -> bool:
    """Whether the order is still open and what it sells still waits for it:
    a booking held for payment (or confirmed on an open invoice)."""
    if order.status != OrderStatus.PENDING:
        return False
    if order.booking_id is not None:
        booking = lock_booking(db, order.booking_id)
        if booking is None or booking.status not in (
            BookingStatus.PENDING_PAYMENT,
            BookingStatus.CONFIRMED,
        ):
            return False
    return True


def fulfil_order(
    db: Session,
    order: Order,
    *,
    now: datetime,
    subscription_id: str | None = None,
) -> bool:
    """Inside a unit: the order is paid in full. Marks it paid, confirms its
    held booking (the confirmation mail goes out now), activates its pending
    pass. A Stripe order becomes a sale now (``events.sale_made``); invoice
    and on-site orders became one when they were placed.

    Returns False, changing nothing, when there is nothing left to fulfil
    (the order was closed or the hold ended first): the caller refunds or
    refuses the money.
    """
    if not can_fulfil(db, order):
        return False
    order.status = OrderStatus.PAID
    order.paid_at = now
    order.closed_at = None
    if order.booking_id is not None:
        booking = lock_booking(db, order.booking_id)
        if booking.status == BookingStatus.PENDING_PAYMENT:
            booking.status = BookingStatus.CONFIRMED
            booking.hold_expires_at = None
            booking.sequence += 1
            # The confirmation (with its .ics) goes out now, not when the
            # hold began.
            notices.announce(db, booking, notices.BookingNotice.CONFIRMED)
    if order.pass_id is not None:
        pass_ = db.get(Pass, order.pass_id)
        if pass_ is not None:
            if subscription_id:
                pass_.stripe_subscription_id = subscription_id
            if pass_.status == PassStatus.PENDING:
                pass_.status = PassStatus.ACTIVE
                pass_.updated_at = now
    if order.payment_method == PaymentMethod.STRIPE:
        events.sale_made.send(order, db=db, now=now)
    return True


def reverse_sale(db: Session, order: Order, *, now: datetime, amount_cents: int) -> int:
    """Inside a unit: tell invoicing that ``amount_cents`` of a sale is taken
    back (refund, cancellation of an invoice/on-site order, money paid back).
    What was already reversed counts: the order is never reversed beyond its
    amount, so a second path reaching the same money sends nothing.
    Returns the cents actually reversed now."""
    left = order.amount_cents - (order.reversed_cents or 0)
    amount = min(amount_cents, left)
    if amount <= 0:
        return 0
    order.reversed_cents = (order.reversed_cents or 0) + amount
    events.sale_reversed.send(order, db=db, now=now, amount_cents=amount)
    return amount


def was_sold(order: Order) -> bool:
    """Whether the order has become a sale (and has its invoice): paid
    through Stripe, or placed to be paid by invoice or on site."""
    if order.payment_method == PaymentMethod.STRIPE:
        return order.paid_at is not None
    return True


def expire_session_later(session_id: str) -> Callable[[], None]:
    """An ``on_commit`` callback closing a Checkout Session no longer to be
    paid."""

    def run() -> None:
        try:
            stripe_client.expire_checkout_session(session_id)
        except (StripeUnavailable, StripeRejected) as error:
            # Harmless: should it still be paid, the webhook refunds it.
            log.info("could not expire checkout session %s: %s", session_id, error)

    return run
