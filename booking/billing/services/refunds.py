"""Cancelled bookings and day passes: unpaid orders close, paid ones are refunded."""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking
from ...db import get_db, on_commit, unit_of_work, utcnow
from ...errors import BookingConflict, Forbidden, InvalidInput, NotFound
from ...passes.models import Pass, PassStatus, PlanKind
from ...passes.services import NETWORK_TIMEZONE, day_pass_in_use
from ...spaces.hours import local_date
from .. import stripe_client
from ..models import (
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from ..stripe_client import StripeRejected, StripeUnavailable
from .checkout import _close_unpaid
from .fulfil import reverse_sale, was_sold
from .orders import (
    _can_see,
    _end_refunded_pass,
    _key,
    order_for_booking,
    order_for_pass,
)

log = logging.getLogger(__name__)


def cancel_day_pass(
    db: Session, actor: User, pass_id: int, *, now: datetime | None = None
) -> Order | None:
    """The holder cancels a day pass before its day: a paid one is refunded
    in full, an unpaid one closed. Raises NotFound (not the actor's),
    BookingConflict (its day has begun, a booking uses it, already over).
    """
    now = now or utcnow()
    with unit_of_work(db):
        query = select(Pass).where(
            Pass.id == pass_id,
            Pass.user_id == actor.id,
            Pass.kind == PlanKind.DAY_PASS,
        )
        if db.get_bind().dialect.name == "postgresql":
            # A booking drawing on the pass locks it too (settle_booking).
            query = query.with_for_update()
        pass_ = db.scalar(query)
        if pass_ is None:
            raise NotFound(_l("There is no such day pass."))
        if pass_.status not in (PassStatus.PENDING, PassStatus.ACTIVE):
            raise BookingConflict(_l("This day pass is no longer valid."))
        tz = pass_.plan.location.timezone if pass_.plan.location else NETWORK_TIMEZONE
        if pass_.valid_from <= local_date(now, tz):
            raise BookingConflict(
                _l("A day pass can be cancelled until the day before.")
            )
        if day_pass_in_use(db, pass_):
            raise BookingConflict(
                _l("A booking uses this day pass: cancel the booking first.")
            )
        order = order_for_pass(db, pass_.id)
        if order is not None and order.status == OrderStatus.PENDING:
            _close_unpaid(db, order, now=now, status=PaymentStatus.CANCELLED)
        elif order is not None and order.status == OrderStatus.PAID:
            _refund_in_unit(db, order, now=now, note="day pass cancelled")
        pass_.status = PassStatus.CANCELLED
        pass_.updated_at = now
    return order


def settle_cancelled_booking(db: Session, booking: Booking, *, now: datetime) -> None:
    """Inside cancel_booking's unit: a paid booking is refunded in full, an
    unpaid one closes its order."""
    order = order_for_booking(db, booking.id)
    if order is None:
        return
    if order.status == OrderStatus.PENDING:
        _close_unpaid(db, order, now=now, status=PaymentStatus.CANCELLED)
    elif order.status == OrderStatus.PAID:
        _refund_in_unit(db, order, now=now, note="booking cancelled")


def _refund_in_unit(db: Session, order: Order, *, now: datetime, note: str) -> None:
    """Take a paid order back: a Stripe payment is refunded (after the
    commit), money paid by transfer or on site is the operator's to return.
    A sale tells invoicing (``events.sale_reversed``)."""
    if order.payment_method != PaymentMethod.STRIPE:
        if order.status == OrderStatus.PAID:
            order.status = OrderStatus.REFUNDED
            order.closed_at = now
            reverse_sale(db, order, now=now, amount_cents=order.amount_cents)
        return
    payment = next(
        (p for p in reversed(order.payments) if p.status == PaymentStatus.SUCCEEDED),
        None,
    )
    if payment is None:
        return
    if was_sold(order) and order.status == OrderStatus.PAID:
        reverse_sale(db, order, now=now, amount_cents=payment.amount_cents)
    payment.status = PaymentStatus.REFUND_DUE
    payment.note = note[:300]
    payment.updated_at = now
    order.status = OrderStatus.REFUNDED
    order.closed_at = now
    payment_id = payment.id
    on_commit(db, lambda: _issue_refund(payment_id))


def _issue_refund(payment_id: int) -> bool:
    """Ask Stripe to refund; on failure the payment stays refund_due and
    ``reconcile`` tries again (same idempotency key, so never twice)."""
    db = get_db()
    payment = db.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.REFUND_DUE:
        return False
    if not payment.stripe_payment_intent_id:
        log.error("payment %s has no payment intent to refund", payment_id)
        return False
    db.commit()
    try:
        refund = stripe_client.create_refund(
            payment_intent=payment.stripe_payment_intent_id,
            amount_cents=None,
            idempotency_key=_key(f"refund-payment-{payment.id}"),
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("refund of payment %s postponed: %s", payment_id, error)
        return False
    with unit_of_work(db):
        payment = db.get(Payment, payment_id)
        if payment.status == PaymentStatus.REFUND_DUE:
            payment.status = PaymentStatus.REFUNDED
            payment.stripe_refund_id = refund["id"]
            payment.refunded_cents = int(refund.get("amount") or payment.amount_cents)
            payment.updated_at = utcnow()
    return True


def refund_payment(
    db: Session, actor: User, payment_id: int, *, reason: str, now=None
) -> Payment:
    """An operator refunds a payment in full, with a reason. Raises Forbidden,
    NotFound, InvalidInput, BookingConflict."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            _l("Say why: the reason is kept with the payment."), field="reason"
        )
    with unit_of_work(db):
        payment = db.get(Payment, payment_id)
        if payment is None:
            raise NotFound()
        if not actor.is_operator or not (
            actor.is_admin or _can_see(db, actor, payment.order)
        ):
            raise Forbidden()
        if payment.status != PaymentStatus.SUCCEEDED:
            raise BookingConflict(_l("Only a successful payment can be refunded."))
        _refund_in_unit(db, payment.order, now=now, note=f"{actor.email}: {reason}")
        _end_refunded_pass(db, payment.order, now=now)
    return payment
