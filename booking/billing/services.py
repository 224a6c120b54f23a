"""Orders and payments: holds, Stripe Checkout, webhooks, refunds, reconcile.

Stripe is called only outside database transactions: either after a commit
(``on_commit``) or in a second step that first commits what it needs, then
calls Stripe, then stores the answer in a new unit of work. Every create call
carries an idempotency key derived from our own row ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.models import User
from ..bookings import notices
from ..bookings.models import Booking, BookingSlot, BookingStatus
from ..bookings.rules import BookableResource
from ..db import on_commit, unit_of_work, utcnow
from ..errors import BookingConflict, DomainError, Forbidden, InvalidInput, NotFound
from ..passes.queries import free_desk_of
from ..spaces.hours import local_date
from ..spaces.services import can_manage
from ..validation import is_digits
from . import stripe_client
from .models import (
    BillingCustomer,
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentStatus,
    StripeEvent,
)
from .stripe_client import StripeRejected, StripeUnavailable

log = logging.getLogger(__name__)

HOLD = timedelta(minutes=15)
# Stripe refuses Checkout Sessions that expire sooner than 30 minutes; our
# hold is shorter and expire_holds closes the session when the hold ends.
CHECKOUT_LIFETIME = timedelta(minutes=31)
_PAID_STATES = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.REFUND_DUE,
    PaymentStatus.REFUNDED,
)


class PaymentUnavailable(DomainError):
    status = 503
    code = "payment_unavailable"
    default_message = _l(
        "The payment service cannot be reached right now. Your booking is held "
        "for 15 minutes: please try again in a moment."
    )


class PaymentRejected(DomainError):
    status = 402
    code = "payment_rejected"
    default_message = _l("The payment could not be started. Please try again.")


def _key(suffix: str) -> str:
    """An idempotency key from our row ids. The prefix names the database, so
    that a fresh installation on the same Stripe account never collides."""
    prefix = current_app.config.get("STRIPE_IDEMPOTENCY_PREFIX", "landdesk")
    return f"{prefix}-{suffix}"


# --- holds and orders -----


def hold_for_payment(
    db: Session,
    booking: Booking,
    *,
    amount_cents: int,
    resource: BookableResource,
    now: datetime,
) -> Order:
    """Inside create_booking's unit: hold the booking and open its order."""
    booking.status = BookingStatus.PENDING_PAYMENT
    booking.hold_expires_at = now + HOLD
    booking.settled_by = "payment"
    return _open_order(
        db,
        kind=OrderKind.BOOKING,
        user_id=booking.user_id,
        amount_cents=amount_cents,
        description=f"{resource.name} {booking.booked_on.isoformat()}",
        booking_id=booking.id,
        location_id=booking.location_id,
        now=now,
    )


def _open_order(
    db: Session,
    *,
    kind: OrderKind,
    user_id: int,
    amount_cents: int,
    description: str,
    now: datetime,
    **links: Any,
) -> Order:
    order = Order(
        kind=kind,
        user_id=user_id,
        amount_cents=amount_cents,
        currency="EUR",
        vat_rate_bp=int(current_app.config.get("BILLING_VAT_RATE_BP", 1900)),
        description=description[:300],
        status=OrderStatus.PENDING,
        created_at=now,
        **links,
    )
    db.add(order)
    db.flush()
    db.add(
        Payment(
            order_id=order.id,
            status=PaymentStatus.PENDING,
            amount_cents=amount_cents,
            created_at=now,
            updated_at=now,
        )
    )
    db.flush()
    return order


def buy_plan(
    db: Session,
    actor: User,
    plan_id: int,
    *,
    now: datetime | None = None,
    company_id: int | None = None,
    day: date | None = None,
    part: str | None = None,
) -> Order:
    """Open an order for a day pass, a pack, a membership or a company budget.

    A day pass is bought for ``day`` (and, half-day, for ``part``). The pass
    exists from now on as pending and turns active only from a verified
    Stripe event. Raises NotFound, Forbidden, InvalidInput.
    """
    from ..passes.models import Company, Plan, PlanKind
    from ..passes.services import check_day_pass_request, new_pass

    now = now or utcnow()
    with unit_of_work(db):
        plan = db.get(Plan, plan_id)
        if plan is None or not plan.is_active:
            raise NotFound(_l("There is no such plan."))
        if plan.kind == PlanKind.COMPANY:
            company = db.get(Company, company_id) if company_id else None
            if company is None or company.admin_user_id != actor.id:
                raise Forbidden(_l("Only a company's administrator buys its budget."))
        elif company_id is not None:
            raise InvalidInput(_l("This plan is for one person."))
        starts_on, day_part = now.date(), None
        description = plan.name
        if plan.kind == PlanKind.DAY_PASS:
            if day is None:
                raise InvalidInput(_l("Choose the day for this pass."), field="date")
            day_part = check_day_pass_request(db, plan, day, part, now)
            starts_on = day
            description = f"{plan.name} {day.isoformat()}"
            if day_part:
                description += f" {day_part}"
        pass_ = new_pass(
            plan,
            user_id=None if company_id else actor.id,
            company_id=company_id,
            today=starts_on,
            day_part=day_part,
        )
        db.add(pass_)
        db.flush()
        return _open_order(
            db,
            kind=OrderKind(plan.kind),
            user_id=actor.id,
            amount_cents=plan.price_cents,
            description=description,
            pass_id=pass_.id,
            company_id=company_id,
            location_id=plan.location_id,
            now=now,
        )


def order_for_pass(db: Session, pass_id: int) -> Order | None:
    """The order that sold a day pass or a pack (the first one of a
    subscription)."""
    return db.scalar(select(Order).where(Order.pass_id == pass_id).order_by(Order.id))


def cancel_day_pass(
    db: Session, actor: User, pass_id: int, *, now: datetime | None = None
) -> Order | None:
    """The holder cancels a day pass before its day: a paid one is refunded
    in full, an unpaid one closed. Raises NotFound (not the actor's),
    BookingConflict (its day has begun, a booking uses it, already over).
    """
    from ..passes.models import Pass, PassStatus, PlanKind
    from ..passes.services import NETWORK_TIMEZONE, day_pass_in_use

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


def _end_refunded_pass(db: Session, order: Order, *, now: datetime) -> None:
    """A refunded day pass or pack is no longer valid (subscriptions end
    through Stripe's own events)."""
    from ..passes.models import Pass, PassStatus, PlanKind

    if order.pass_id is None:
        return
    pass_ = db.get(Pass, order.pass_id)
    if pass_ is not None and pass_.kind in (PlanKind.DAY_PASS, PlanKind.PACK):
        if pass_.status in (PassStatus.PENDING, PassStatus.ACTIVE):
            pass_.status = PassStatus.CANCELLED
            pass_.updated_at = now


def get_order_for(db: Session, actor: User, order_id: int) -> Order:
    order = db.get(Order, order_id)
    if order is None or (order.user_id != actor.id and not _can_see(db, actor, order)):
        raise NotFound(_l("There is no such order."))
    return order


def _can_see(db: Session, actor: User, order: Order) -> bool:
    if actor.is_admin:
        return True
    return bool(order.location_id and can_manage(db, actor, order.location_id))


def order_for_booking(db: Session, booking_id: int) -> Order | None:
    return db.scalar(
        select(Order).where(Order.booking_id == booking_id).order_by(Order.id.desc())
    )


def _current_payment(order: Order) -> Payment | None:
    return order.payments[-1] if order.payments else None


# --- Stripe customers and checkout -----


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
    if order.booking_id is not None:
        booking = db.get(Booking, order.booking_id)
        if booking is None or booking.status != BookingStatus.PENDING_PAYMENT:
            raise BookingConflict(_l("The hold on this booking has ended."))
        if booking.hold_expires_at and booking.hold_expires_at <= now:
            raise BookingConflict(_l("The hold on this booking has ended."))
    if payment.checkout_url:
        return payment.checkout_url
    company = None
    if order.company_id:
        from ..passes.models import Company

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
    order.status = OrderStatus.CANCELLED
    order.closed_at = now
    payment = _current_payment(order)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.CANCELLED
        payment.updated_at = now
        if expire_session and payment.stripe_checkout_session_id:
            on_commit(db, _expire_session_later(payment.stripe_checkout_session_id))


def _expire_session_later(session_id: str) -> Callable[[], None]:
    def run() -> None:
        try:
            stripe_client.expire_checkout_session(session_id)
        except (StripeUnavailable, StripeRejected) as error:
            # Harmless: should it still be paid, the webhook refunds it.
            log.info("could not expire checkout session %s: %s", session_id, error)

    return run


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


def expire_holds(db: Session, now: datetime | None = None) -> int:
    """Release every unpaid hold that ran out. Idempotent; for cron."""
    now = now or utcnow()
    with unit_of_work(db):
        return release_expired_holds(db, now)


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
    from ..passes.models import Pass, PassStatus

    payment = _current_payment(order)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = status
        payment.updated_at = now
        if payment.stripe_checkout_session_id:
            on_commit(db, _expire_session_later(payment.stripe_checkout_session_id))
    if order.status == OrderStatus.PENDING:
        order.status = OrderStatus.CANCELLED
        order.closed_at = now
    if order.pass_id:
        pass_ = db.get(Pass, order.pass_id)
        if pass_ is not None and pass_.status == PassStatus.PENDING:
            pass_.status = PassStatus.EXPIRED
            free_desk_of(db, pass_)


# --- cancellation and refunds -----


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
    payment = next(
        (p for p in reversed(order.payments) if p.status == PaymentStatus.SUCCEEDED),
        None,
    )
    if payment is None:
        return
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
    from ..db import get_db

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


# --- webhooks -----


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
    from ..passes.services import apply_subscription

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
    from ..passes.models import Pass

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
    payment = db.scalar(
        select(Payment).where(Payment.stripe_checkout_session_id == session.get("id"))
    )
    if payment is not None:
        return payment
    # The session was created but our write of its id was lost: find the
    # order from the metadata we sent.
    order_id = (session.get("metadata") or {}).get("order_id")
    if order_id and is_digits(str(order_id)):
        order = db.get(Order, int(order_id))
        if order is not None and order.payments:
            payment = order.payments[-1]
            if payment.stripe_checkout_session_id is None:
                payment.stripe_checkout_session_id = session.get("id")
            return payment
    return None


def _payment_for_intent(db: Session, intent: dict) -> Payment | None:
    payment = db.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == intent.get("id"))
    )
    if payment is not None:
        return payment
    order_id = (intent.get("metadata") or {}).get("order_id")
    if order_id and is_digits(str(order_id)):
        order = db.get(Order, int(order_id))
        if order is not None and order.payments:
            payment = order.payments[-1]
            if payment.stripe_payment_intent_id is None:
                payment.stripe_payment_intent_id = intent.get("id")
            return payment
    return None


def _lock_booking(db: Session, booking_id: int) -> Booking | None:
    query = select(Booking).where(Booking.id == booking_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalar(query)


def _mark_paid(
    db: Session,
    payment: Payment,
    *,
    now: datetime,
    payment_intent: str | None = None,
    subscription_id: str | None = None,
) -> None:
    """Money arrived. Fulfil the order, or refund if there is nothing left to
    fulfil (the hold ran out first): no charge exists without its booking."""
    from ..passes.models import Pass, PassStatus

    if payment_intent and payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = payment_intent
    if payment.status in _PAID_STATES:
        return
    order = payment.order
    payment.status = PaymentStatus.SUCCEEDED
    payment.updated_at = now
    if order.status != OrderStatus.PENDING:
        # Cancelled before the money came in.
        _refund_in_unit(db, order, now=now, note="paid after the order was closed")
        return
    order.status = OrderStatus.PAID
    order.paid_at = now
    if order.booking_id is not None:
        booking = _lock_booking(db, order.booking_id)
        if booking is None or booking.status != BookingStatus.PENDING_PAYMENT:
            _refund_in_unit(db, order, now=now, note="paid after the hold ended")
            return
        booking.status = BookingStatus.CONFIRMED
        booking.hold_expires_at = None
        booking.sequence += 1
        # The confirmation (with its .ics) goes out now, not when the hold began.
        notices.announce(db, booking, notices.BookingNotice.CONFIRMED)
    if order.pass_id is not None:
        pass_ = db.get(Pass, order.pass_id)
        if pass_ is None:
            return
        if subscription_id:
            pass_.stripe_subscription_id = subscription_id
        if pass_.status == PassStatus.PENDING:
            pass_.status = PassStatus.ACTIVE
            pass_.updated_at = now


def _mark_failed(db: Session, payment: Payment, *, now: datetime, note: str) -> bool:
    """The payment failed or its checkout expired: release what it held."""
    if payment.status != PaymentStatus.PENDING:
        return False
    order = payment.order
    payment.status = PaymentStatus.FAILED
    payment.note = note[:300]
    payment.updated_at = now
    if order.booking_id is not None:
        booking = _lock_booking(db, order.booking_id)
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


# --- memberships: portal, cancel, change of plan -----


class PortalUnavailable(DomainError):
    status = 503
    code = "payment_unavailable"
    default_message = _l(
        "The payment service cannot be reached right now. Please try again in a moment."
    )


def _stripe_customer_of(
    db: Session, *, user: User | None = None, company_id: int | None = None
) -> str | None:
    if company_id is not None:
        column, holder_id = BillingCustomer.company_id, company_id
    else:
        column, holder_id = BillingCustomer.user_id, user.id
    return db.scalar(
        select(BillingCustomer.stripe_customer_id).where(column == holder_id)
    )


def open_portal(
    db: Session, actor: User, *, return_url: str, company_id: int | None = None
) -> str:
    """A Stripe customer-portal session: payment method (card or SEPA
    mandate), invoices to download, cancellation. For a company, only its
    administrator. Raises NotFound, InvalidInput, PortalUnavailable."""
    from ..passes.models import Company

    if company_id is not None:
        company = db.get(Company, company_id)
        if company is None or company.admin_user_id != actor.id:
            raise NotFound(_l("There is no such company account."))
    customer = _stripe_customer_of(db, user=actor, company_id=company_id)
    if customer is None:
        raise InvalidInput(_l("There are no payments to manage yet."))
    db.commit()
    try:
        session = stripe_client.create_portal_session(
            customer=customer, return_url=return_url
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("no portal session for %s: %s", customer, error)
        raise PortalUnavailable() from None
    return session["url"]


def _own_subscription(db: Session, actor: User, pass_id: int):
    from ..passes.models import Pass, PassStatus

    pass_ = db.get(Pass, pass_id)
    holder_ok = pass_ is not None and (
        pass_.user_id == actor.id
        or (pass_.company is not None and pass_.company.admin_user_id == actor.id)
    )
    if not holder_ok:
        raise NotFound(_l("There is no such membership."))
    if not pass_.stripe_subscription_id or pass_.status not in (
        PassStatus.ACTIVE,
        PassStatus.PAST_DUE,
    ):
        raise BookingConflict(_l("This membership is not running."))
    return pass_


def cancel_at_period_end(
    db: Session, actor: User, pass_id: int, *, now: datetime | None = None
):
    """The member ends their membership when the paid month runs out; days
    stay usable until then. Raises NotFound, BookingConflict,
    PortalUnavailable."""
    from ..passes.services import apply_subscription

    now = now or utcnow()
    pass_ = _own_subscription(db, actor, pass_id)
    subscription_id, stamp = pass_.stripe_subscription_id, int(now.timestamp())
    db.commit()
    try:
        subscription = stripe_client.update_subscription(
            subscription_id,
            {"cancel_at_period_end": True},
            idempotency_key=_key(f"pass-{pass_id}-cancel-{stamp}"),
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("could not cancel subscription %s: %s", subscription_id, error)
        raise PortalUnavailable() from None
    with unit_of_work(db):
        return apply_subscription(db, subscription, now=now)


def _ensure_price(db: Session, plan) -> str:
    """The recurring Stripe price of a plan, created once per amount."""
    if plan.stripe_price_id:
        return plan.stripe_price_id
    plan_id, name, cents = plan.id, plan.name, plan.price_cents
    db.commit()
    price = stripe_client.create_price(
        {
            "currency": "eur",
            "unit_amount": cents,
            "recurring": {"interval": "month"},
            "product_data": {"name": name},
            "tax_behavior": "inclusive",
            "metadata": {"plan_id": str(plan_id)},
        },
        idempotency_key=_key(f"plan-{plan_id}-price-{cents}"),
    )
    from ..passes.models import Plan

    with unit_of_work(db):
        plan = db.get(Plan, plan_id)
        if plan.price_cents == cents:
            plan.stripe_price_id = price["id"]
    return price["id"]


def change_plan(db: Session, actor: User, pass_id: int, plan_id: int, *, now=None):
    """Move a running subscription to another plan of the same kind; Stripe
    prorates (credit for the unused part of the month on the next invoice).
    The new days and hours apply at once. Raises NotFound, InvalidInput,
    BookingConflict, PortalUnavailable."""
    from ..passes.models import Plan
    from ..passes.services import apply_subscription

    now = now or utcnow()
    pass_ = _own_subscription(db, actor, pass_id)
    plan = db.get(Plan, plan_id)
    if plan is None or not plan.is_active or plan.kind != pass_.kind:
        raise InvalidInput(_l("Choose another plan of the same kind."), field="plan")
    if plan.id == pass_.plan_id:
        raise InvalidInput(_l("This is already your plan."), field="plan")
    subscription_id, stamp = pass_.stripe_subscription_id, int(now.timestamp())
    try:
        price_id = _ensure_price(db, plan)
        current = stripe_client.retrieve_subscription(subscription_id)
        item_id = current["items"]["data"][0]["id"]
        subscription = stripe_client.update_subscription(
            subscription_id,
            {
                "items": [{"id": item_id, "price": price_id}],
                "proration_behavior": "create_prorations",
                "metadata": {"pass_id": str(pass_id), "plan_id": str(plan.id)},
            },
            idempotency_key=_key(f"pass-{pass_id}-plan-{plan.id}-{stamp}"),
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("could not change subscription %s: %s", subscription_id, error)
        raise PortalUnavailable() from None
    with unit_of_work(db):
        return apply_subscription(db, subscription, now=now)


# --- reconciliation -----


def reconcile(db: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Compare local state with Stripe and repair what lost webhooks left.

    Pending payments with a checkout are looked up, refunds that were decided
    but not sent are sent, subscriptions are re-read, holds expire. Safe to run
    at any time.
    """
    from ..passes.models import Pass
    from ..passes.services import apply_subscription

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


# --- listings -----


def payments_list(db: Session, actor: User, limit: int = 300) -> list[Payment]:
    query = select(Payment).join(Order).order_by(Payment.id.desc()).limit(limit)
    if not actor.is_admin:
        from ..spaces.services import managed_location_ids

        ids = managed_location_ids(db, actor) or []
        query = query.where(Order.location_id.in_(ids))
    return list(db.scalars(query))


def orders_of(db: Session, user: User, limit: int = 100) -> list[Order]:
    return list(
        db.scalars(
            select(Order)
            .where(Order.user_id == user.id)
            .order_by(Order.id.desc())
            .limit(limit)
        )
    )


def as_utc(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None
