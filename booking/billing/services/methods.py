"""Ways to pay: which ones a location offers, and what each does to an
order, its booking and its pass. One place for these rules: placing an order
(booking, day pass, plan) and choosing on the order page both come here.

- ``stripe``: card (or SEPA for memberships) through Stripe Checkout, offered
  only when Stripe is configured. The booking is held for ``HOLD``.
- ``invoice``: bank transfer to the operator's account, due in N days. The
  operator decides whether the booking (or pass) is confirmed at once or held
  until the money is recorded (at most until its day begins).
- ``on_site``: paid at the space; confirmed at once, due on its day.

Memberships and company budgets of a location may be paid by transfer or on
site too: each month-long period is its own order (``periods``), the next
one opened by the ``renew-memberships`` job (``renewals``). Network-wide
plans (no location) are paid through Stripe only: no location's account or
till takes their money, and Stripe's SEPA direct debit covers paying from a
bank account (docs/billing.md).

An order placed without a way to pay is held as a Stripe order would be; the
person chooses on the order page (``choose_payment_method``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ... import events
from ...auth.models import User
from ...bookings import notices
from ...bookings.models import Booking, BookingStatus
from ...db import on_commit, unit_of_work, utcnow
from ...errors import BookingConflict, DomainError, InvalidInput, NotFound
from ...passes.models import Pass, PassStatus, PlanKind
from ...passes.services import NETWORK_TIMEZONE, day_pass_span
from ...spaces.hours import local_date
from ...spaces.models import Location
from ...spaces.services import can_manage
from ..models import (
    LocationPaymentSettings,
    Order,
    OrderKind,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)
from .fulfil import expire_session_later, lock_booking, lock_order
from .periods import RECURRING_KINDS, start_first_period


class NoWayToPay(DomainError):
    status = 409
    code = "no_payment_method"
    default_message = _l(
        "This cannot be paid here yet: the space has not set up a way to pay. "
        "Please ask its operator."
    )


def stripe_configured() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def payment_settings(db: Session, location_id: int | None) -> LocationPaymentSettings:
    """A location's settings, or the defaults (Stripe only) when it has none."""
    settings = db.get(LocationPaymentSettings, location_id) if location_id else None
    if settings is None:
        settings = LocationPaymentSettings(
            location_id=location_id,
            stripe=True,
            invoice=False,
            on_site=False,
            invoice_due_days=14,
            invoice_confirms=True,
            account_holder="",
            iban="",
            bic="",
        )
    return settings


def offered_methods(
    db: Session, location_id: int | None, kind: OrderKind
) -> list[PaymentMethod]:
    """The ways to pay an order of ``kind`` at a location (None: a
    network-wide plan, paid through Stripe only). The same for every kind:
    memberships and budgets renew by the same way each month."""
    settings = payment_settings(db, location_id)
    methods = []
    if stripe_configured() and settings.stripe:
        methods.append(PaymentMethod.STRIPE)
    if location_id is not None:
        if settings.invoice and settings.iban:
            methods.append(PaymentMethod.INVOICE)
        if settings.on_site:
            methods.append(PaymentMethod.ON_SITE)
    return methods


def check_method(
    db: Session, location_id: int | None, kind: OrderKind, requested: str | None
) -> PaymentMethod | None:
    """The way to pay asked for, checked against what the location offers.
    None (not asked) stays None: the person chooses on the order page (which
    says so when the location offers none). Raises NoWayToPay (nothing is
    offered), InvalidInput (not offered)."""
    if requested in (None, ""):
        return None
    offered = offered_methods(db, location_id, kind)
    if not offered:
        raise NoWayToPay()
    if requested not in offered:
        raise InvalidInput(
            _l("This location does not offer that way to pay."),
            field="payment_method",
        )
    return PaymentMethod(requested)


# § 33 UStDV: an invoice of up to 250 € gross may name the buyer without an
# address (Kleinbetragsrechnung); above that, § 14 UStG wants the address.
SMALL_INVOICE_LIMIT_CENTS = 25_000


def needs_billing_address(db: Session, order: Order) -> bool:
    """Whether the person buying must give their billing address before the
    sale: its invoice goes to them (not to a company,
    invoicing.issuing.recipient_of_order) and is above the small-invoice
    limit, and they have given none."""
    if order.company_id is not None or order.amount_cents <= SMALL_INVOICE_LIMIT_CENTS:
        return False
    buyer = db.get(User, order.user_id)
    return buyer is not None and not (buyer.billing_address or "").strip()


def walk_in_guest(db: Session, booking: Booking) -> bool:
    """A guest whom the location's own operator booked (at the counter, from
    the day view) pays for themselves: on site by default, and the invoice
    names the guest (``invoicing.issuing.recipient_of_order``). A member's
    guest is paid by the member."""
    if not booking.guest_name:
        return False
    holder = db.get(User, booking.user_id)
    return holder is not None and can_manage(db, holder, booking.location_id)


def check_billing_address(db: Session, order: Order) -> None:
    if needs_billing_address(db, order):
        raise InvalidInput(
            _l(
                "Invoices above 250 € must name your address. Please enter "
                "your billing address first."
            ),
            field="billing_address",
        )


def apply_method(
    db: Session,
    order: Order,
    method: PaymentMethod,
    *,
    now: datetime,
    announce: bool,
    renewal: bool = False,
) -> None:
    """Inside a unit: settle a pending order to be paid by ``method``.

    Invoice and on-site orders become a sale now (``events.sale_made``); their
    booking or pass is confirmed at once or held, as the location decides.
    ``announce``: send the booking's confirmation mail (create_booking sends
    its own when the booking it places is confirmed). ``renewal``: the next
    period of a running membership, never held (the member stays active; an
    unpaid renewal gets the reminder after its due date).
    """
    if method == PaymentMethod.STRIPE:
        return
    if not renewal:
        # The sale (and its invoice) is made now. A renewal's first period
        # was checked.
        check_billing_address(db, order)
    settings = payment_settings(db, order.location_id)
    order.payment_method = method
    for payment in list(order.payments):
        if payment.status != PaymentStatus.PENDING:
            continue
        if payment.stripe_checkout_session_id is None:
            # The Stripe payment row of an order still undecided, never sent
            # to Stripe: nothing to keep.
            order.payments.remove(payment)
            db.delete(payment)
            continue
        payment.status = PaymentStatus.CANCELLED
        payment.note = f"paid by {method.value}"
        payment.updated_at = now
        on_commit(db, expire_session_later(payment.stripe_checkout_session_id))
    booking = lock_booking(db, order.booking_id) if order.booking_id else None
    pass_ = db.get(Pass, order.pass_id) if order.pass_id else None
    starts_at = _starts_at(db, booking, pass_)
    tz = _timezone(db, order.location_id)
    if method == PaymentMethod.ON_SITE:
        confirm = True
        order.due_on = local_date(starts_at or now, tz)
    else:
        confirm = settings.invoice_confirms or renewal
        due = now + timedelta(days=settings.invoice_due_days)
        order.due_on = local_date(due, tz)
        if not confirm:
            hold = min(due, starts_at) if starts_at else due
            order.hold_until = hold
            if booking is not None:
                booking.hold_expires_at = hold
    if pass_ is not None and pass_.kind in RECURRING_KINDS:
        start_first_period(order, pass_, local_date(now, tz), tz)
    if confirm:
        order.hold_until = None
        if booking is not None and booking.status == BookingStatus.PENDING_PAYMENT:
            booking.status = BookingStatus.CONFIRMED
            booking.hold_expires_at = None
            if announce:
                booking.sequence += 1
                notices.announce(db, booking, notices.BookingNotice.CONFIRMED)
        if pass_ is not None and pass_.status == PassStatus.PENDING:
            pass_.status = PassStatus.ACTIVE
            pass_.updated_at = now
    events.sale_made.send(order, db=db, now=now)


def _starts_at(db: Session, booking: Booking | None, pass_: Pass | None):
    if booking is not None:
        return booking.starts_at
    if pass_ is not None and pass_.kind == PlanKind.DAY_PASS and pass_.location_id:
        span = day_pass_span(
            db.get(Location, pass_.location_id), pass_.valid_from, pass_.day_part
        )
        return span[0] if span else None
    return None


def _timezone(db: Session, location_id: int | None) -> str:
    location = db.get(Location, location_id) if location_id else None
    return location.timezone if location else NETWORK_TIMEZONE


def choose_payment_method(
    db: Session,
    actor: User,
    order_id: int,
    method: str,
    *,
    now: datetime | None = None,
) -> Order:
    """The person chooses how to pay an order still waiting for the choice
    (placed without one). Choosing Stripe changes nothing (the page goes on
    to Checkout). Raises NotFound, InvalidInput (not offered),
    BookingConflict (no longer open, or its hold has ended)."""
    now = now or utcnow()
    with unit_of_work(db):
        # Locked: a double click applies the choice (and makes the sale) once.
        order = lock_order(db, order_id)
        if order is None or order.user_id != actor.id:
            raise NotFound(_l("There is no such order."))
        if order.status != OrderStatus.PENDING or order.payment_method != (
            PaymentMethod.STRIPE
        ):
            raise BookingConflict(_l("How this order is paid is already settled."))
        if order.booking_id is not None:
            booking = lock_booking(db, order.booking_id)
            if (
                booking is None
                or booking.status != BookingStatus.PENDING_PAYMENT
                or (booking.hold_expires_at and booking.hold_expires_at <= now)
            ):
                raise BookingConflict(_l("The hold on this booking has ended."))
        elif order.hold_until and order.hold_until <= now:
            raise BookingConflict(_l("This order is no longer waiting for payment."))
        chosen = check_method(db, order.location_id, OrderKind(order.kind), method)
        if chosen is None:
            raise InvalidInput(_l("Choose how to pay."), field="payment_method")
        apply_method(db, order, chosen, now=now, announce=True)
    return order
