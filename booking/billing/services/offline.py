"""Payments outside Stripe: bank transfers, cash and card terminals, recorded
by the operator of the order's location (or an admin)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work, utcnow
from ...errors import BookingConflict, InvalidInput, NotFound
from ...spaces.services import can_manage
from ..models import OfflinePayment, OfflinePaymentKind, Order, PaymentMethod
from .fulfil import fulfil_order, lock_order

# How far a payment's date may lie ahead of today (time zones, a transfer
# dated tomorrow by the bank).
_FUTURE_SLACK = timedelta(days=1)


def can_record_payments(db: Session, actor: User, order: Order) -> bool:
    """The operator of the order's location, or an admin."""
    if actor.is_admin:
        return True
    return bool(
        actor.is_operator
        and order.location_id
        and can_manage(db, actor, order.location_id)
    )


def record_offline_payment(
    db: Session,
    actor: User,
    order_id: int,
    *,
    amount_cents: int,
    kind: str,
    paid_on: date,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> OfflinePayment:
    """Record money received outside Stripe against an invoice or on-site
    order. Partial payments add up; once the order is paid in full it is
    fulfilled (``fulfil_order``: paid, booking confirmed, pass active).

    Idempotent: the same order, kind, amount and day (or the same
    ``idempotency_key``, which a form sends so that two equal payments on one
    day can both be recorded) is recorded once; a repeat returns the first
    record. Raises NotFound (no such order or not the actor's location),
    InvalidInput, BookingConflict (the order is not open).
    """
    now = now or utcnow()
    if kind not in {k.value for k in OfflinePaymentKind}:
        raise InvalidInput(_l("Choose how the money was paid."), field="kind")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidInput(_l("Give the amount in cents."), field="amount_cents")
    if amount_cents <= 0:
        raise InvalidInput(
            _l("The amount must be more than zero."), field="amount_cents"
        )
    if not isinstance(paid_on, date) or paid_on > (now + _FUTURE_SLACK).date():
        raise InvalidInput(
            _l("The payment date cannot be in the future."), field="paid_on"
        )
    suffix = idempotency_key or f"{kind}:{amount_cents}:{paid_on.isoformat()}"
    key = f"order-{order_id}:{suffix}"[:200]
    try:
        with unit_of_work(db):
            order = lock_order(db, order_id)
            if order is None or not can_record_payments(db, actor, order):
                raise NotFound(_l("There is no such order."))
            existing = db.scalar(
                select(OfflinePayment).where(OfflinePayment.dedupe_key == key)
            )
            if existing is not None:
                return existing
            if order.payment_method == PaymentMethod.STRIPE:
                raise BookingConflict(_l("This order is paid through Stripe."))
            if order.open_cents <= 0:
                raise BookingConflict(_l("This order is not open for payment."))
            if amount_cents > order.open_cents:
                raise InvalidInput(
                    _l("That is more than is still open on this order."),
                    field="amount_cents",
                )
            payment = OfflinePayment(
                kind=OfflinePaymentKind(kind),
                amount_cents=amount_cents,
                paid_on=paid_on,
                dedupe_key=key,
                recorded_by_id=actor.id,
                recorded_at=now,
            )
            order.offline_payments.append(payment)
            db.flush()
            if order.paid_offline_cents >= order.amount_cents and not fulfil_order(
                db, order, now=now
            ):
                raise BookingConflict(
                    _l("The booking of this order has ended: nothing to pay for.")
                )
    except IntegrityError:
        # A concurrent request with the same key committed first.
        db.rollback()
        existing = db.scalar(
            select(OfflinePayment).where(OfflinePayment.dedupe_key == key)
        )
        if existing is None:
            raise
        return existing
    return payment
