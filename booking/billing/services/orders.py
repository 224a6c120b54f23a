"""Orders and payments: holding a booking, buying a plan, looking orders up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking, BookingStatus
from ...bookings.rules import BookableResource
from ...db import unit_of_work, utcnow
from ...errors import BookingConflict, DomainError, Forbidden, InvalidInput, NotFound
from ...passes.models import Company, Pass, PassStatus, Plan, PlanKind
from ...passes.services import check_day_pass_request, new_pass
from ...spaces.services import can_manage, managed_location_ids
from ..models import (
    Order,
    OrderKind,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from .methods import (
    NoWayToPay,
    apply_method,
    check_method,
    offered_methods,
    walk_in_guest,
)

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
        "Card payment cannot be reached right now. This is temporary: please "
        "try again in a moment, or choose another way to pay."
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


def hold_for_payment(
    db: Session,
    booking: Booking,
    *,
    amount_cents: int,
    resource: BookableResource,
    now: datetime,
    payment_method: str | None = None,
) -> Order:
    """Inside create_booking's unit: hold the booking and open its order, to
    be paid as asked (``methods``; None: chosen on the order page). Raises
    InvalidInput (the location does not offer that way), NoWayToPay."""
    if not payment_method and walk_in_guest(db, booking):
        offered = offered_methods(db, booking.location_id, OrderKind.BOOKING)
        if PaymentMethod.ON_SITE in offered:
            payment_method = PaymentMethod.ON_SITE  # paid at the counter
    method = check_method(db, booking.location_id, OrderKind.BOOKING, payment_method)
    booking.status = BookingStatus.PENDING_PAYMENT
    booking.hold_expires_at = now + HOLD
    booking.settled_by = "payment"
    description = f"{resource.name} {booking.booked_on:%d.%m.%Y}"
    if booking.guest_name:
        description += f" · {booking.guest_name}"
    order = _open_order(
        db,
        kind=OrderKind.BOOKING,
        user_id=booking.user_id,
        amount_cents=amount_cents,
        description=description,
        booking_id=booking.id,
        location_id=booking.location_id,
        now=now,
        payment_method=method or PaymentMethod.STRIPE,
    )
    if method is not None:
        apply_method(db, order, method, now=now, announce=False)
    return order


def _open_order(
    db: Session,
    *,
    kind: OrderKind,
    user_id: int,
    amount_cents: int,
    description: str,
    now: datetime,
    payment_method: PaymentMethod = PaymentMethod.STRIPE,
    due_on: date | None = None,
    **links: Any,
) -> Order:
    """A new pending order. A Stripe order gets its payment row (the checkout
    to come); an invoice or on-site order is paid by the payments its
    operator records (``methods.apply_method`` makes it a sale)."""
    order = Order(
        kind=kind,
        user_id=user_id,
        amount_cents=amount_cents,
        currency="EUR",
        vat_rate_bp=int(current_app.config.get("BILLING_VAT_RATE_BP", 1900)),
        description=description[:300],
        status=OrderStatus.PENDING,
        payment_method=payment_method,
        due_on=due_on,
        created_at=now,
        **links,
    )
    db.add(order)
    db.flush()
    if payment_method == PaymentMethod.STRIPE:
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
    payment_method: str | None = None,
) -> Order:
    """Open an order for a day pass, a pack, a membership or a company budget.

    A day pass is bought for ``day`` (and, half-day, for ``part``). The pass
    exists from now on as pending and turns active when it is paid (or at
    once, on site or on invoice as the location decides), ``methods``.
    An order still to be paid through Stripe (or not yet told how) is held
    for ``HOLD``, then closed. Raises NotFound, Forbidden, InvalidInput,
    NoWayToPay.
    """
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
        if not offered_methods(db, plan.location_id, OrderKind(plan.kind)):
            # Nothing is reserved yet: say so before anything is written.
            if plan.location_id is None:
                raise NoWayToPay(
                    _l(
                        "Network-wide plans are paid by card, which this network "
                        "does not offer yet. Plans of a single space can be paid "
                        "by bank transfer or on site."
                    )
                )
            raise NoWayToPay()
        method = check_method(
            db, plan.location_id, OrderKind(plan.kind), payment_method
        )
        starts_on, day_part = now.date(), None
        description = plan.name
        if plan.kind == PlanKind.DAY_PASS:
            if day is None:
                raise InvalidInput(_l("Choose the day for this pass."), field="date")
            day_part = check_day_pass_request(db, plan, day, part, now)
            starts_on = day
            # Read by people and printed on the invoice: a German date and part.
            description = f"{plan.name} {day:%d.%m.%Y}"
            if day_part:
                description += {"am": ", vormittags", "pm": ", nachmittags"}[day_part]
        repeated = _same_purchase(db, actor, plan, company_id, method, now)
        if repeated is not None:
            return repeated
        pass_ = new_pass(
            plan,
            user_id=None if company_id else actor.id,
            company_id=company_id,
            today=starts_on,
            day_part=day_part,
        )
        db.add(pass_)
        db.flush()
        order = _open_order(
            db,
            kind=OrderKind(plan.kind),
            user_id=actor.id,
            amount_cents=plan.price_cents,
            description=description,
            pass_id=pass_.id,
            company_id=company_id,
            location_id=plan.location_id,
            now=now,
            payment_method=method or PaymentMethod.STRIPE,
        )
        if method is None or method == PaymentMethod.STRIPE:
            order.hold_until = now + HOLD
        else:
            apply_method(db, order, method, now=now, announce=False)
        return order


def _same_purchase(
    db: Session,
    actor: User,
    plan: Plan,
    company_id: int | None,
    method: PaymentMethod | None,
    now: datetime,
) -> Order | None:
    """Inside buy_plan's unit: a membership or budget of this plan the holder
    already has. Bought by this person in the last ``HOLD`` the same way, it
    is a retried or doubled request: its order is the answer (no second
    sale, no second invoice). Otherwise the purchase is refused
    (BookingConflict). Packs and day passes may be bought more than once."""
    if not plan.is_recurring:
        return None
    if db.get_bind().dialect.name == "postgresql":
        # Two requests of one person buy one after the other (SQLite's
        # writer lock already serialises them).
        db.execute(select(User.id).where(User.id == actor.id).with_for_update())
    query = select(Pass).where(
        Pass.plan_id == plan.id,
        Pass.status.in_((PassStatus.PENDING, PassStatus.ACTIVE, PassStatus.PAST_DUE)),
    )
    if company_id is not None:
        query = query.where(Pass.company_id == company_id)
    else:
        query = query.where(Pass.user_id == actor.id)
    live = db.scalar(query.order_by(Pass.id.desc()))
    if live is None:
        return None
    order = order_for_pass(db, live.id)
    if (
        order is not None
        and order.status == OrderStatus.PENDING
        and order.hold_until is not None
        and order.hold_until <= now
    ):
        return None  # its hold ran out: expire-holds closes it
    if (
        order is not None
        and order.user_id == actor.id
        and order.created_at >= now - HOLD
        and (method is None or order.payment_method == method)
    ):
        return order
    raise BookingConflict(_l("This membership is already running."))


def order_for_pass(db: Session, pass_id: int) -> Order | None:
    """The order that sold a day pass or a pack (the first one of a
    subscription)."""
    return db.scalar(select(Order).where(Order.pass_id == pass_id).order_by(Order.id))


def _end_refunded_pass(db: Session, order: Order, *, now: datetime) -> None:
    """A refunded day pass or pack is no longer valid (subscriptions end
    through Stripe's own events)."""
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


def payments_list(db: Session, actor: User, limit: int = 300) -> list[Payment]:
    query = select(Payment).join(Order).order_by(Payment.id.desc()).limit(limit)
    if not actor.is_admin:
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
