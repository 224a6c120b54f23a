"""Stripe's word on payments: webhooks, and reconcile for the ones that got lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...bookings.models import BookingStatus
from ...db import unit_of_work, utcnow
from ...passes.models import Pass
from ...passes.services import apply_subscription
from ...validation import is_digits
from .. import stripe_client
from ..models import (
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentStatus,
    StripeEvent,
)
from ..stripe_client import StripeRejected, StripeUnavailable
from .checkout import _close_unpaid, _release, expire_holds
from .fulfil import fulfil_order, lock_booking, reverse_sale
from .orders import _PAID_STATES, _end_refunded_pass, _open_order, as_utc
from .refunds import _issue_refund, _refund_in_unit


def handle_event(
    db: Session, event: dict[str, Any], *, now: datetime | None = None
) -> str:
    """Apply one verified Stripe event exactly once.

    Returns "applied", "ignored" or "duplicate". Raises StripeUnavailable when
    the current state of an object could not be fetched (the view answers 503
    so that Stripe delivers the event again).
    """
    now = now or utcnow()
    event_id = event["id"]
    if db.get(StripeEvent, event_id) is not None:
        return "duplicate"
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    subscription = _fetch_subscription_for(kind, obj)
    try:
        with unit_of_work(db):
            db.add(StripeEvent(id=event_id, type=kind[:100], received_at=now))
            db.flush()
            applied = _apply(db, kind, obj, subscription, now)
    except IntegrityError:
        return "duplicate"
    return "applied" if applied else "ignored"


def _subscription_id_of(kind: str, obj: dict[str, Any]) -> str | None:
    if kind.startswith("customer.subscription."):
        return obj.get("id")
    if kind.startswith("invoice."):
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        return obj.get("subscription") or parent.get("subscription")
    if kind.startswith("checkout.session.") and obj.get("mode") == "subscription":
        return obj.get("subscription")
    return None


def _fetch_subscription_for(kind: str, obj: dict[str, Any]) -> dict | None:
    subscription_id = _subscription_id_of(kind, obj)
    if not subscription_id or not isinstance(subscription_id, str):
        return None
    try:
        return stripe_client.retrieve_subscription(subscription_id)
    except StripeRejected:
        # Gone at Stripe: the event's own snapshot is all there is.
        return obj if kind.startswith("customer.subscription.") else None


def _apply(db, kind: str, obj: dict, subscription: dict | None, now: datetime) -> bool:
    applied = False
    if kind in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ):
        payment = _payment_for_session(db, obj)
        if payment is not None and obj.get("payment_status") in (
            "paid",
            "no_payment_required",
        ):
            _mark_paid(
                db,
                payment,
                now=now,
                payment_intent=obj.get("payment_intent"),
                subscription_id=obj.get("subscription"),
            )
            applied = True
    elif kind in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        payment = _payment_for_session(db, obj)
        if payment is not None:
            applied = _mark_failed(db, payment, now=now, note=kind)
    elif kind == "payment_intent.succeeded":
        payment = _payment_for_intent(db, obj)
        if payment is not None and obj.get("status") == "succeeded":
            _mark_paid(db, payment, now=now, payment_intent=obj["id"])
            applied = True
    elif kind == "payment_intent.payment_failed":
        payment = _payment_for_intent(db, obj)
        if payment is not None:
            error = (obj.get("last_payment_error") or {}).get("message") or ""
            applied = _mark_failed(db, payment, now=now, note=f"failed: {error}")
    elif kind in ("charge.refunded", "refund.created", "refund.updated"):
        applied = _apply_refund(db, obj, now=now)
    if subscription is not None:
        applied = apply_subscription(db, subscription, now=now) is not None or applied
    if kind in ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"):
        applied = _record_invoice(db, obj, now=now) or applied
    return applied


def _record_invoice(db: Session, invoice: dict, *, now: datetime) -> bool:
    """Keep a payment row per subscription invoice, so that operators see
    renewals (paid or failed) next to one-off payments. The first invoice was
    paid through Checkout: it is linked to that order's payment."""
    subscription_id = _subscription_id_of("invoice.", invoice)
    invoice_id = invoice.get("id")
    if not subscription_id or not invoice_id:
        return False
    pass_ = db.scalar(
        select(Pass).where(Pass.stripe_subscription_id == subscription_id)
    )
    if pass_ is None:
        return False
    paid = invoice.get("status") == "paid"
    payment = db.scalar(select(Payment).where(Payment.stripe_invoice_id == invoice_id))
    if payment is None and invoice.get("billing_reason") == "subscription_create":
        first = db.scalar(
            select(Order).where(Order.pass_id == pass_.id).order_by(Order.id)
        )
        if first is not None and first.payments:
            payment = first.payments[-1]
            if payment.stripe_invoice_id is None:
                payment.stripe_invoice_id = invoice_id
            return True
    if payment is None:
        period_start = as_utc(invoice.get("period_start")) or now
        order = _open_order(
            db,
            kind=OrderKind(pass_.kind),
            user_id=pass_.user_id or pass_.company.admin_user_id,
            amount_cents=int(invoice.get("amount_due") or 0),
            description=f"{pass_.plan.name} {period_start:%Y-%m}",
            pass_id=pass_.id,
            company_id=pass_.company_id,
            location_id=pass_.location_id,
            now=now,
        )
        payment = order.payments[-1]
        payment.stripe_invoice_id = invoice_id
    order = payment.order
    if paid and payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        payment.status = PaymentStatus.SUCCEEDED
        payment.note = ""
        order.status = OrderStatus.PAID
        order.paid_at = now
        order.closed_at = None
    elif not paid and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.FAILED
        payment.note = "renewal failed"
    payment.updated_at = now
    return True


def _payment_for_session(db: Session, session: dict) -> Payment | None:
    return _payment_for(db, session, "stripe_checkout_session_id")


def _payment_for_intent(db: Session, intent: dict) -> Payment | None:
    return _payment_for(db, intent, "stripe_payment_intent_id")


def _payment_for(db: Session, stripe_object: dict, id_column: str) -> Payment | None:
    """Our payment for a Checkout session or PaymentIntent, by the Stripe id
    stored in ``id_column``."""
    payment = db.scalar(
        select(Payment).where(getattr(Payment, id_column) == stripe_object.get("id"))
    )
    if payment is not None:
        return payment
    # The Stripe object was created but our write of its id was lost: find
    # the order from the metadata we sent.
    order_id = (stripe_object.get("metadata") or {}).get("order_id")
    if order_id and is_digits(str(order_id)):
        order = db.get(Order, int(order_id))
        if order is not None and order.payments:
            payment = order.payments[-1]
            if getattr(payment, id_column) is None:
                setattr(payment, id_column, stripe_object.get("id"))
            return payment
    return None


def _mark_paid(
    db: Session,
    payment: Payment,
    *,
    now: datetime,
    payment_intent: str | None = None,
    subscription_id: str | None = None,
) -> None:
    """Money arrived through Stripe. Fulfil the order, or refund if there is
    nothing left to fulfil (the hold ran out first): no charge exists without
    its booking."""
    if payment_intent and payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = payment_intent
    if payment.status in _PAID_STATES:
        return
    payment.status = PaymentStatus.SUCCEEDED
    payment.updated_at = now
    order = payment.order
    if not fulfil_order(db, order, now=now, subscription_id=subscription_id):
        _refund_in_unit(
            db, order, now=now, note="paid after the order was closed or its hold ended"
        )


def _mark_failed(db: Session, payment: Payment, *, now: datetime, note: str) -> bool:
    """The payment failed or its checkout expired: release what it held."""
    if payment.status != PaymentStatus.PENDING:
        return False
    order = payment.order
    payment.status = PaymentStatus.FAILED
    payment.note = note[:300]
    payment.updated_at = now
    if order.booking_id is not None:
        booking = lock_booking(db, order.booking_id)
        if booking is not None and booking.status == BookingStatus.PENDING_PAYMENT:
            _release(db, booking, now=now, expire_session=False)
    _close_unpaid(db, order, now=now, status=PaymentStatus.FAILED)
    return True


def _apply_refund(db: Session, obj: dict, *, now: datetime) -> bool:
    intent = obj.get("payment_intent")
    if not intent:
        return False
    payment = db.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent)
    )
    if payment is None:
        return False
    refunded = int(obj.get("amount_refunded") or obj.get("amount") or 0)
    if payment.status == PaymentStatus.SUCCEEDED and refunded > payment.refunded_cents:
        # Refunded at Stripe (dashboard), not by us: our own refunds told
        # invoicing when they were decided (refund_due).
        reverse_sale(
            db, payment.order, now=now, amount_cents=refunded - payment.refunded_cents
        )
    payment.refunded_cents = max(payment.refunded_cents, refunded)
    if payment.refunded_cents >= payment.amount_cents:
        payment.status = PaymentStatus.REFUNDED
        if payment.order.status == OrderStatus.PAID:
            payment.order.status = OrderStatus.REFUNDED
            payment.order.closed_at = now
            # Refunded in Stripe's dashboard: the pass it paid for ends too.
            _end_refunded_pass(db, payment.order, now=now)
    payment.updated_at = now
    return True


def reconcile(db: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Compare local state with Stripe and repair what lost webhooks left.

    Pending payments with a checkout are looked up, refunds that were decided
    but not sent are sent, subscriptions are re-read, holds expire. Safe to run
    at any time.
    """
    now = now or utcnow()
    counts = {
        "paid": 0,
        "failed": 0,
        "refunds": 0,
        "subscriptions": 0,
        "holds": 0,
        "unreachable": 0,
    }
    pending = db.execute(
        select(Payment.id, Payment.stripe_checkout_session_id).where(
            Payment.status == PaymentStatus.PENDING,
            Payment.stripe_checkout_session_id.is_not(None),
        )
    ).all()
    db.commit()
    for payment_id, session_id in pending:
        try:
            session = stripe_client.retrieve_checkout_session(session_id)
        except StripeUnavailable:
            counts["unreachable"] += 1
            continue
        except StripeRejected:
            continue
        with unit_of_work(db):
            payment = db.get(Payment, payment_id)
            if session.get("payment_status") == "paid":
                _mark_paid(
                    db,
                    payment,
                    now=now,
                    payment_intent=session.get("payment_intent"),
                    subscription_id=session.get("subscription"),
                )
                counts["paid"] += 1
            elif session.get("status") == "expired":
                if _mark_failed(db, payment, now=now, note="expired (reconcile)"):
                    counts["failed"] += 1
    for payment_id in db.scalars(
        select(Payment.id).where(Payment.status == PaymentStatus.REFUND_DUE)
    ).all():
        if _issue_refund(payment_id):
            counts["refunds"] += 1
    subscriptions = db.scalars(
        select(Pass.stripe_subscription_id).where(
            Pass.stripe_subscription_id.is_not(None)
        )
    ).all()
    db.commit()
    for subscription_id in subscriptions:
        try:
            subscription = stripe_client.retrieve_subscription(subscription_id)
        except StripeUnavailable:
            counts["unreachable"] += 1
            continue
        except StripeRejected:
            continue
        with unit_of_work(db):
            if apply_subscription(db, subscription, now=now) is not None:
                counts["subscriptions"] += 1
    counts["holds"] = expire_holds(db, now)
    return counts
