"""Paying: Stripe Checkout redirects, the webhook, the operator's payments."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required

from ..bookings.models import Booking
from ..db import get_db
from ..errors import DomainError
from ..security import operator_required, public_url, public_url_for
from . import services, stripe_client
from .models import OrderStatus

log = logging.getLogger(__name__)

bp = Blueprint("billing", __name__)


@bp.post("/stripe/webhook")
def webhook():
    payload = request.get_data(cache=False)
    try:
        event = stripe_client.verify_event(
            payload, request.headers.get("Stripe-Signature", "")
        )
    except stripe_client.InvalidSignature as error:
        log.warning("refused a Stripe webhook: %s", error)
        return jsonify(error="bad_signature", message="invalid signature"), 400
    try:
        result = services.handle_event(get_db(), event)
    except stripe_client.StripeUnavailable:
        # Stripe delivers the event again later.
        return jsonify(error="unavailable", message="try again"), 503
    return jsonify(received=True, result=result), 200


def _render_order(db, order, error=None):
    booking = db.get(Booking, order.booking_id) if order.booking_id else None
    return render_template(
        "billing/order.html", order=order, booking=booking, error=error
    )


@bp.get("/billing/orders/<int:order_id>")
@login_required
def order(order_id: int):
    db = get_db()
    order = services.get_order_for(db, current_user, order_id)
    return _render_order(db, order)


@bp.post("/billing/portal")
@login_required
def portal():
    """Stripe's customer portal: card or SEPA mandate, invoices, cancellation."""
    back = request.form.get("back") or url_for("passes.plans")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("passes.plans")
    try:
        url = services.open_portal(
            get_db(),
            current_user,
            return_url=public_url(back),
            company_id=request.form.get("company_id", type=int),
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(back, 303)
    return redirect(url, 303)


@bp.post("/billing/orders/<int:order_id>/pay")
@login_required
def pay(order_id: int):
    db = get_db()
    try:
        url = services.start_checkout(
            db,
            current_user,
            order_id,
            success_url=public_url_for(
                "billing.returned", order_id=order_id, result="success"
            ),
            cancel_url=public_url_for(
                "billing.returned", order_id=order_id, result="cancel"
            ),
        )
    except DomainError as error:
        if error.status == 404:
            raise
        order = services.get_order_for(db, current_user, order_id)
        return _render_order(db, order, error.message), error.status
    return redirect(url, 303)


@bp.get("/billing/orders/<int:order_id>/return")
@login_required
def returned(order_id: int):
    """Where Stripe sends the person back. Never fulfils: the webhook does."""
    db = get_db()
    if request.args.get("result") == "cancel":
        services.abandon_checkout(db, current_user, order_id)
        flash(gettext("Payment cancelled. The booking was released."), "info")
        return redirect(url_for("bookings.mine"), 303)
    order = services.get_order_for(db, current_user, order_id)
    if order.status == OrderStatus.PAID:
        flash(gettext("Paid. Thank you!"), "success")
    else:
        flash(
            gettext("Thank you! We confirm as soon as Stripe reports the payment."),
            "info",
        )
    return redirect(url_for("billing.order", order_id=order_id), 303)


@bp.get("/billing/payments")
@operator_required
def payments():
    rows = services.payments_list(get_db(), current_user)
    return render_template("billing/payments.html", payments=rows)


@bp.post("/billing/payments/<int:payment_id>/refund")
@operator_required
def refund(payment_id: int):
    try:
        services.refund_payment(
            get_db(), current_user, payment_id, reason=request.form.get("reason", "")
        )
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(str(error.message), "error")
        return redirect(url_for("billing.payments"), 303)
    flash(gettext("Refund requested."), "success")
    return redirect(url_for("billing.payments"), 303)
