"""Payment routes of the JSON API under /api/v1 (contract: api/schemas.py).

A paid booking is created by ``POST /api/v1/bookings`` as ``pending_payment``
with a ``payment`` object; ``POST /api/v1/bookings/{id}/checkout`` then gives
the Stripe Checkout address to send the person to. Only the verified webhook
confirms the booking; clients poll ``GET /api/v1/bookings/{id}``.
"""

from __future__ import annotations

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..api import schemas
from ..api.contract import operation
from ..bookings.models import Booking, BookingStatus
from ..bookings.rules import parse_date
from ..bookings.services import get_booking_for
from ..db import get_db, utcnow
from ..errors import BookingConflict, InvalidInput, NotFound
from ..passes import services as passes_services
from ..security import public_url_for
from . import services
from .models import PaymentMethod
from .schemas import BankTransfer, PlanPurchase
from .schemas import Order as OrderAnswer

api_bp = Blueprint("billing_api", __name__, url_prefix="/api/v1")


def bank_json(order) -> BankTransfer | None:
    """Where to transfer an open invoice order's amount."""
    if order.payment_method != PaymentMethod.INVOICE or order.status != "pending":
        return None
    settings = services.payment_settings(get_db(), order.location_id)
    return BankTransfer(
        account_holder=settings.account_holder,
        iban=settings.iban,
        bic=settings.bic or None,
        reference=f"{order.id}",
    )


def payment_json(booking: Booking) -> schemas.Payment | None:
    """What a booking still costs and how to pay it: a booking held for
    payment, or one confirmed on an open invoice or for paying on site.
    None if nothing is due."""
    if booking.settled_by != "payment" or not booking.is_active:
        return None
    order = services.order_for_booking(get_db(), booking.id)
    if order is None or order.status != "pending":
        return None
    if (
        booking.status != BookingStatus.PENDING_PAYMENT
        and order.payment_method == PaymentMethod.STRIPE
    ):
        return None
    return schemas.Payment(
        order_id=order.id,
        amount_cents=order.amount_cents,
        vat_cents=order.vat_cents,
        currency=order.currency,
        hold_expires_at=booking.hold_expires_at,
        checkout=url_for("billing_api.checkout", booking_id=booking.id),
        payment_method=order.payment_method,
        due_date=order.due_on,
        bank=bank_json(order),
    )


def _checkout_url(order_id: int) -> str:
    return services.start_checkout(
        get_db(),
        current_user,
        order_id,
        success_url=public_url_for(
            "billing.returned", order_id=order_id, result="success"
        ),
        cancel_url=public_url_for(
            "billing.returned", order_id=order_id, result="cancel"
        ),
    )


@api_bp.post("/bookings/<int:booking_id>/checkout")
@login_required
@operation(
    "Start paying a booking held for payment: answers the Stripe Checkout "
    "address (payment_url). Repeating it gives the same address; the booking "
    "is confirmed by Stripe's webhook",
    answers={
        200: schemas.Payment,
        409: "Not waiting for payment, or the hold has ended",
        503: "Stripe cannot be reached: try again, the hold stays "
        "(payment_unavailable)",
    },
)
def checkout(booking_id: int):
    booking = get_booking_for(get_db(), current_user, booking_id)
    payment = payment_json(booking)
    if payment is None or payment.payment_method != PaymentMethod.STRIPE:
        raise BookingConflict(_l("This booking is not waiting for payment."))
    payment.payment_url = _checkout_url(payment.order_id)
    return payment


@api_bp.get("/me/credits")
@login_required
@operation(
    "Days (and meeting-room minutes) left on your passes, memberships and "
    "company budget",
    query=schemas.CreditsQuery,
    answers={200: list[schemas.Credit]},
)
def credits(query: schemas.CreditsQuery):
    db = get_db()
    now = utcnow()
    day = parse_date(query.date) if query.date else now.date()
    return [
        schemas.Credit(
            pass_id=c.pass_id,
            name=c.name,
            kind=c.kind,
            remaining_days=c.remaining,
            room_minutes_left=c.room_minutes,
            standing=c.standing,
            valid_until=c.valid_until,
            company=c.company,
            cancel_at_period_end=c.cancel_at_period_end,
        )
        for c in passes_services.credit_summary(
            db, current_user, query.location_id, day, now
        )
    ]


# --- day passes -----


def _own_day_pass(db, pass_id: int):
    from ..passes.models import Pass, PlanKind

    pass_ = db.get(Pass, pass_id)
    if (
        pass_ is None
        or pass_.user_id != current_user.id
        or pass_.kind != PlanKind.DAY_PASS
    ):
        raise NotFound(_l("There is no such day pass."))
    return pass_


def day_pass_json(pass_) -> schemas.DayPass:
    order = services.order_for_pass(get_db(), pass_.id)
    payment = None
    if order is not None:
        payment = schemas.DayPassPayment(
            order_id=order.id,
            status=order.status,
            amount_cents=order.amount_cents,
            vat_cents=order.vat_cents,
            currency=order.currency,
            checkout=url_for("billing_api.day_pass_checkout", pass_id=pass_.id),
            payment_method=order.payment_method,
            due_date=order.due_on,
            bank=bank_json(order),
        )
    return schemas.DayPass(
        id=pass_.id,
        plan_id=pass_.plan_id,
        name=pass_.plan.name,
        date=pass_.valid_from,
        part=pass_.day_part or "full",
        location_id=pass_.location_id,
        status=pass_.status,
        payment=payment,
    )


@api_bp.post("/day-passes")
@login_required
@operation(
    "Buy a day pass for a date (whole or half day, at one location or "
    "network-wide): created pending; pay through "
    "/day-passes/{pass_id}/checkout, the webhook activates it",
    body=schemas.DayPassRequest,
    answers={
        201: (
            schemas.DayPass,
            "Created: waiting for payment, or active on an open invoice or "
            "for paying on site",
        ),
        400: "Bad date (past, beyond the horizon, closed), part, or a way to "
        "pay the location does not offer",
        404: "No such day-pass plan on sale",
        409: "The location offers no way to pay (no_payment_method)",
    },
)
def buy_day_pass(body: schemas.DayPassRequest):
    from ..passes.models import Plan, PlanKind

    db = get_db()
    plan = db.get(Plan, body.plan_id)
    if plan is None or plan.kind != PlanKind.DAY_PASS:
        raise NotFound(_l("There is no such plan."))
    if not body.date:
        raise InvalidInput(_l("Choose the day for this pass."), field="date")
    order = services.buy_plan(
        db,
        current_user,
        body.plan_id,
        day=parse_date(body.date),
        part=body.part,
        payment_method=body.payment_method,
    )
    return day_pass_json(_own_day_pass(db, order.pass_id)), 201


@api_bp.get("/day-passes")
@login_required
@operation(
    "Your day passes, the latest date first",
    answers={200: list[schemas.DayPass]},
)
def list_day_passes():
    db = get_db()
    return [day_pass_json(p) for p in passes_services.day_passes_of(db, current_user)]


@api_bp.get("/day-passes/<int:pass_id>")
@login_required
@operation("One of your day passes", answers={200: schemas.DayPass})
def get_day_pass(pass_id: int):
    return day_pass_json(_own_day_pass(get_db(), pass_id))


@api_bp.post("/day-passes/<int:pass_id>/cancel")
@login_required
@operation(
    "Cancel a day pass until the day before: a paid one is refunded in full",
    answers={
        200: schemas.DayPass,
        409: "Its day has begun, a booking uses it, or it is no longer valid",
    },
)
def cancel_day_pass(pass_id: int):
    db = get_db()
    services.cancel_day_pass(db, current_user, pass_id)
    return day_pass_json(_own_day_pass(db, pass_id))


@api_bp.post("/day-passes/<int:pass_id>/checkout")
@login_required
@operation(
    "The Stripe Checkout address for an unpaid day pass (repeating it gives "
    "the same address)",
    answers={
        200: schemas.DayPassPayment,
        409: "Not waiting for payment",
        503: "Stripe cannot be reached: try again",
    },
)
def day_pass_checkout(pass_id: int):
    payment = day_pass_json(_own_day_pass(get_db(), pass_id)).payment
    if (
        payment is None
        or payment.status != "pending"
        or payment.payment_method != PaymentMethod.STRIPE
    ):
        raise BookingConflict(_l("This order is no longer waiting for payment."))
    payment.payment_url = _checkout_url(payment.order_id)
    return payment


# --- plans -----


def order_json(order) -> OrderAnswer:
    return OrderAnswer(
        id=order.id,
        kind=order.kind,
        description=order.description,
        status=order.status,
        amount_cents=order.amount_cents,
        vat_cents=order.vat_cents,
        currency=order.currency,
        payment_method=order.payment_method,
        open_cents=order.open_cents,
        due_date=order.due_on,
        bank=bank_json(order),
        pass_id=order.pass_id,
        checkout=url_for("billing_api.order_checkout", order_id=order.id)
        if order.payment_method == PaymentMethod.STRIPE
        and order.status == "pending"
        else None,
    )


@api_bp.post("/plans/<int:plan_id>/purchase")
@login_required
@operation(
    "Buy a pack, a membership or a company budget (day passes: "
    "/day-passes). Invoice and on-site orders are answered with how to pay; "
    "stripe ones are paid through the order's checkout",
    body=PlanPurchase,
    body_required=False,
    answers={
        201: (OrderAnswer, "The order"),
        400: "A way to pay the plan's location does not offer",
        403: "Company budgets: only the company's administrator",
        404: "No such plan on sale",
        409: "The location offers no way to pay (no_payment_method)",
    },
)
def buy_plan(plan_id: int, body: PlanPurchase):
    from ..passes.models import Plan, PlanKind

    db = get_db()
    plan = db.get(Plan, plan_id)
    if plan is None or plan.kind == PlanKind.DAY_PASS:
        raise NotFound(_l("There is no such plan."))
    order = services.buy_plan(
        db,
        current_user,
        plan_id,
        company_id=body.company_id,
        payment_method=body.payment_method,
    )
    return order_json(order), 201


@api_bp.get("/orders/<int:order_id>")
@login_required
@operation("One of your orders", answers={200: OrderAnswer})
def get_order(order_id: int):
    return order_json(services.get_order_for(get_db(), current_user, order_id))


@api_bp.post("/orders/<int:order_id>/checkout")
@login_required
@operation(
    "The Stripe Checkout address of a pending stripe order (repeating it "
    "gives the same address)",
    answers={
        200: OrderAnswer,
        409: "Not waiting for an online payment",
        503: "Stripe cannot be reached: this is temporary; try again or "
        "choose another way to pay",
    },
)
def order_checkout(order_id: int):
    order = services.get_order_for(get_db(), current_user, order_id)
    url = _checkout_url(order.id)
    answer = order_json(services.get_order_for(get_db(), current_user, order_id))
    answer.payment_url = url
    return answer
