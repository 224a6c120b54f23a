"""Payment routes of the JSON API under /api/v1 (documented in api/openapi.py).

A paid booking is created by ``POST /api/v1/bookings`` as ``pending_payment``
with a ``payment`` object; ``POST /api/v1/bookings/{id}/checkout`` then gives
the Stripe Checkout address to send the person to. Only the verified webhook
confirms the booking; clients poll ``GET /api/v1/bookings/{id}``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..bookings.models import Booking, BookingStatus
from ..bookings.rules import parse_date
from ..bookings.services import get_booking_for
from ..db import get_db, utcnow
from ..errors import BookingConflict, InvalidInput, NotFound
from ..passes import services as passes_services
from . import services

api_bp = Blueprint("billing_api", __name__, url_prefix="/api/v1")


def _instant(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def payment_json(booking: Booking) -> dict | None:
    """What a held booking costs and where to pay it; None if nothing is due."""
    if booking.status != BookingStatus.PENDING_PAYMENT:
        return None
    order = services.order_for_booking(get_db(), booking.id)
    if order is None:
        return None
    return {
        "order_id": order.id,
        "amount_cents": order.amount_cents,
        "vat_cents": order.vat_cents,
        "currency": order.currency,
        "hold_expires_at": _instant(booking.hold_expires_at),
        "checkout": url_for("billing_api.checkout", booking_id=booking.id),
    }


@api_bp.post("/bookings/<int:booking_id>/checkout")
@login_required
def checkout(booking_id: int):
    db = get_db()
    booking = get_booking_for(db, current_user, booking_id)
    payment = payment_json(booking)
    if payment is None:
        raise BookingConflict(_l("This booking is not waiting for payment."))
    order_id = payment["order_id"]
    url = services.start_checkout(
        db,
        current_user,
        order_id,
        success_url=url_for(
            "billing.returned", order_id=order_id, result="success", _external=True
        ),
        cancel_url=url_for(
            "billing.returned", order_id=order_id, result="cancel", _external=True
        ),
    )
    return jsonify({**payment, "payment_url": url})


@api_bp.get("/me/credits")
@login_required
def credits():
    db = get_db()
    now = utcnow()
    location_id = request.args.get("location_id", type=int)
    day = parse_date(request.args["date"]) if request.args.get("date") else now.date()
    return jsonify(
        [
            {
                "pass_id": c.pass_id,
                "name": c.name,
                "kind": c.kind,
                "remaining_days": c.remaining,
                "room_minutes_left": c.room_minutes,
                "standing": c.standing,
                "valid_until": c.valid_until.isoformat() if c.valid_until else None,
                "company": c.company,
                "cancel_at_period_end": c.cancel_at_period_end,
            }
            for c in passes_services.credit_summary(
                db, current_user, location_id, day, now
            )
        ]
    )


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


def day_pass_json(pass_) -> dict:
    order = services.order_for_pass(get_db(), pass_.id)
    body = {
        "id": pass_.id,
        "plan_id": pass_.plan_id,
        "name": pass_.plan.name,
        "date": pass_.valid_from.isoformat(),
        "part": pass_.day_part or "full",
        "location_id": pass_.location_id,
        "status": pass_.status,
        "payment": None,
    }
    if order is not None:
        body["payment"] = {
            "order_id": order.id,
            "status": order.status,
            "amount_cents": order.amount_cents,
            "vat_cents": order.vat_cents,
            "currency": order.currency,
            "checkout": url_for("billing_api.day_pass_checkout", pass_id=pass_.id),
        }
    return body


@api_bp.post("/day-passes")
@login_required
def buy_day_pass():
    from ..passes.models import Plan, PlanKind

    db = get_db()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_l("Send a JSON object."))
    plan_id = data.get("plan_id")
    if not isinstance(plan_id, int) or isinstance(plan_id, bool):
        raise InvalidInput(_l("Choose a day pass."), field="plan_id")
    plan = db.get(Plan, plan_id)
    if plan is None or plan.kind != PlanKind.DAY_PASS:
        raise NotFound(_l("There is no such plan."))
    if not data.get("date"):
        raise InvalidInput(_l("Choose the day for this pass."), field="date")
    order = services.buy_plan(
        db,
        current_user,
        plan_id,
        day=parse_date(data["date"]),
        part=data.get("part") or None,
    )
    return jsonify(day_pass_json(_own_day_pass(db, order.pass_id))), 201


@api_bp.get("/day-passes")
@login_required
def list_day_passes():
    db = get_db()
    return jsonify(
        [day_pass_json(p) for p in passes_services.day_passes_of(db, current_user)]
    )


@api_bp.get("/day-passes/<int:pass_id>")
@login_required
def get_day_pass(pass_id: int):
    return jsonify(day_pass_json(_own_day_pass(get_db(), pass_id)))


@api_bp.post("/day-passes/<int:pass_id>/cancel")
@login_required
def cancel_day_pass(pass_id: int):
    db = get_db()
    services.cancel_day_pass(db, current_user, pass_id)
    return jsonify(day_pass_json(_own_day_pass(db, pass_id)))


@api_bp.post("/day-passes/<int:pass_id>/checkout")
@login_required
def day_pass_checkout(pass_id: int):
    db = get_db()
    body = day_pass_json(_own_day_pass(db, pass_id))
    payment = body["payment"]
    if payment is None or payment["status"] != "pending":
        raise BookingConflict(_l("This order is no longer waiting for payment."))
    order_id = payment["order_id"]
    url = services.start_checkout(
        db,
        current_user,
        order_id,
        success_url=url_for(
            "billing.returned", order_id=order_id, result="success", _external=True
        ),
        cancel_url=url_for(
            "billing.returned", order_id=order_id, result="cancel", _external=True
        ),
    )
    return jsonify({**payment, "payment_url": url})
