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
from ..errors import BookingConflict
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
