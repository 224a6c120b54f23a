"""Payments outside Stripe: bank transfers, cash and card terminals, recorded
by the operator of the order's location (or an admin)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work, utcnow
from ...errors import BookingConflict, InvalidInput, NotFound
from ...i18n import euro_amount
from ...passes.models import Pass, PassStatus
from ...passes.queries import free_desk_of
from ...passes.services import NETWORK_TIMEZONE
from ...spaces.hours import local_date
from ...spaces.services import can_manage, managed_location_ids
from ..models import (
    OfflinePayback,
    OfflinePayment,
    OfflinePaymentKind,
    Order,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)
from .checkout import _close_unpaid
from .fulfil import fulfil_order, lock_order, reverse_sale

# How far a payment's date may lie ahead of today (time zones, a transfer
# dated tomorrow by the bank).
_FUTURE_SLACK = timedelta(days=1)


def _check_money_moved(
    kind: str, amount_cents: object, paid_on: object, now: datetime, which_kind
) -> None:
    """What every hand-recorded movement of money needs, payments and
    paybacks alike: a known way, a positive whole number of cents, a day
    that is not in the future. ``which_kind`` asks for the way."""
    if kind not in {k.value for k in OfflinePaymentKind}:
        raise InvalidInput(which_kind, field="kind")
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
    _check_money_moved(
        kind, amount_cents, paid_on, now, _l("Choose how the money was paid.")
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
                    _l(
                        "That is more than is still open on this order (%(open)s).",
                        open=euro_amount(order.open_cents),
                    ),
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


def open_orders(db: Session, actor: User, limit: int = 300) -> list[Order]:
    """Invoice and on-site orders still to be paid at the actor's locations
    (all of them for an admin), the longest due first."""
    query = (
        select(Order)
        .where(
            Order.status == OrderStatus.PENDING,
            Order.payment_method.in_((PaymentMethod.INVOICE, PaymentMethod.ON_SITE)),
        )
        .order_by(Order.due_on, Order.id)
        .limit(limit)
    )
    if not actor.is_admin:
        query = query.where(
            Order.location_id.in_(managed_location_ids(db, actor) or [])
        )
    return list(db.scalars(query))


def recorded_payments(
    db: Session, actor: User, limit: int = 30
) -> list[OfflinePayment]:
    """The payments recorded by hand at the actor's locations (all of them
    for an admin), the latest first: what was entered, so it can be checked."""
    query = (
        select(OfflinePayment)
        .join(Order, Order.id == OfflinePayment.order_id)
        .order_by(OfflinePayment.recorded_at.desc(), OfflinePayment.id.desc())
        .limit(limit)
    )
    if not actor.is_admin:
        query = query.where(
            Order.location_id.in_(managed_location_ids(db, actor) or [])
        )
    return list(db.scalars(query))


def is_overdue(order: Order, today: date) -> bool:
    return bool(
        order.status == OrderStatus.PENDING and order.due_on and order.due_on < today
    )


def orders_to_remind(db: Session, now: datetime) -> list[Order]:
    """Open invoice and on-site orders past their due date (in Berlin) whose
    one reminder has not gone out yet."""
    today = local_date(now, NETWORK_TIMEZONE)
    return list(
        db.scalars(
            select(Order)
            .where(
                Order.status == OrderStatus.PENDING,
                Order.payment_method.in_(
                    (PaymentMethod.INVOICE, PaymentMethod.ON_SITE)
                ),
                Order.due_on < today,
                Order.reminded_at.is_(None),
            )
            .order_by(Order.id)
            .limit(500)
        )
    )


def mark_reminded(db: Session, order_id: int, now: datetime) -> bool:
    """Claim an order's one reminder; False if another run claimed it."""
    with unit_of_work(db):
        claimed = db.execute(
            update(Order)
            .where(Order.id == order_id, Order.reminded_at.is_(None))
            .values(reminded_at=now)
        ).rowcount
    return claimed == 1


def close_open_order(
    db: Session, actor: User, order_id: int, *, now: datetime | None = None
) -> Order:
    """The operator gives up on an unpaid invoice or on-site order without a
    live booking (a pass, or a booking whose day is over): it closes
    unpaid, a pass it confirmed ends, invoicing cancels the invoice. (A live
    booking is cancelled through the booking path instead, which closes its
    order.) Raises NotFound, BookingConflict."""
    now = now or utcnow()
    with unit_of_work(db):
        order = lock_order(db, order_id)
        if order is None or not can_record_payments(db, actor, order):
            raise NotFound(_l("There is no such order."))
        if order.status != OrderStatus.PENDING or (
            order.payment_method == PaymentMethod.STRIPE
        ):
            raise BookingConflict(_l("This order is not open for payment."))
        _close_unpaid(db, order, now=now, status=PaymentStatus.CANCELLED)
        pass_ = db.get(Pass, order.pass_id) if order.pass_id else None
        if pass_ is not None and pass_.status in (
            PassStatus.ACTIVE,
            PassStatus.PAST_DUE,
        ):
            # A membership whose period goes unpaid ends (no more renewals).
            pass_.status = PassStatus.CANCELLED
            pass_.updated_at = now
            free_desk_of(db, pass_)
    return order


def offline_refunds(db: Session, actor: User, *, limit: int = 200) -> list[Order]:
    """Orders paid by transfer or on site (in full, or in part) and then
    taken back, whose money the operator has not yet recorded as paid back
    (``record_payback``): the list of what is still to be returned."""
    query = (
        select(Order)
        .outerjoin(OfflinePayback, OfflinePayback.order_id == Order.id)
        .where(
            Order.status.in_((OrderStatus.REFUNDED, OrderStatus.CANCELLED)),
            Order.payment_method.in_((PaymentMethod.INVOICE, PaymentMethod.ON_SITE)),
            OfflinePayback.id.is_(None),
            Order.id.in_(select(OfflinePayment.order_id)),
        )
        .order_by(Order.closed_at.desc())
        .limit(limit)
    )
    if not actor.is_admin:
        ids = managed_location_ids(db, actor) or []
        query = query.where(Order.location_id.in_(ids))
    return list(db.scalars(query))


def record_payback(
    db: Session,
    actor: User,
    order_id: int,
    *,
    amount_cents: int,
    kind: str,
    paid_on: date,
    now: datetime | None = None,
) -> OfflinePayback:
    """The operator records that the money of a cancelled transfer or
    on-site order went back to the customer (how, how much, when). The
    order leaves the list of what is to be paid back. Invoicing is told
    (``events.sale_reversed``) only for what was not reversed when the order
    was cancelled: nothing is taken back twice.

    Idempotent: one payback per order; a repeat (retry, double click,
    concurrent request) returns the first. Raises NotFound, InvalidInput,
    BookingConflict (the order was not taken back, or nothing was paid)."""
    now = now or utcnow()
    _check_money_moved(
        kind, amount_cents, paid_on, now, _l("Choose how the money was paid back.")
    )
    try:
        with unit_of_work(db):
            order = lock_order(db, order_id)
            if order is None or not can_record_payments(db, actor, order):
                raise NotFound(_l("There is no such order."))
            existing = db.scalar(
                select(OfflinePayback).where(OfflinePayback.order_id == order.id)
            )
            if existing is not None:
                return existing
            if order.payment_method == PaymentMethod.STRIPE or order.status not in (
                OrderStatus.REFUNDED,
                OrderStatus.CANCELLED,
            ):
                raise BookingConflict(_l("This order has nothing to pay back."))
            if not order.paid_offline_cents:
                raise BookingConflict(_l("This order has nothing to pay back."))
            if amount_cents > order.paid_offline_cents:
                raise InvalidInput(
                    _l("That is more than was paid on this order."),
                    field="amount_cents",
                )
            payback = OfflinePayback(
                order_id=order.id,
                kind=OfflinePaymentKind(kind),
                amount_cents=amount_cents,
                paid_on=paid_on,
                recorded_by_id=actor.id,
                recorded_at=now,
            )
            db.add(payback)
            db.flush()
            # Cancelling the order normally reversed the whole sale already.
            reverse_sale(
                db,
                order,
                now=now,
                amount_cents=amount_cents - (order.reversed_cents or 0),
            )
    except IntegrityError:
        # A concurrent request recorded it first.
        db.rollback()
        existing = db.scalar(
            select(OfflinePayback).where(OfflinePayback.order_id == order_id)
        )
        if existing is None:
            raise
        return existing
    return payback
