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

from ..bookings.models import Booking, BookingStatus
from ..db import get_db, utcnow
from ..errors import DomainError
from ..security import local_path, operator_required, public_url, public_url_for
from . import operator_views, services, stripe_client
from .models import OrderKind, OrderStatus, PaymentMethod

log = logging.getLogger(__name__)

bp = Blueprint("billing", __name__)
# The operator's money pages live in their own module, on this blueprint.
operator_views.register(bp)


@bp.app_template_global()
def pass_order(pass_id: int):
    """The order that sold a pass, for pages listing passes."""
    return services.order_for_pass(get_db(), pass_id)


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


def _invoice_of(db, order):
    """The order's own invoice once issued (None for a company's collective
    one): the transfer names its number, the page links its PDF. Invoicing
    sits above billing; a page may compose both."""
    from ..invoicing.models import Invoice, InvoicedOrder

    link = db.get(InvoicedOrder, order.id)
    invoice = db.get(Invoice, link.invoice_id) if link else None
    if invoice is None or invoice.user_id != order.user_id:
        return None
    return invoice


def _render_order(db, order, error=None, status=200):
    """The order page: its state, how to pay it (the choice while it is
    undecided), the bank details of an invoice, when a hold ends."""
    booking = db.get(Booking, order.booking_id) if order.booking_id else None
    now = utcnow()
    methods = services.offered_methods(db, order.location_id, OrderKind(order.kind))
    hold_ends = booking.hold_expires_at if booking else order.hold_until
    if booking is not None and booking.status != BookingStatus.PENDING_PAYMENT:
        hold_ends = None
    stripe_order = order.payment_method == PaymentMethod.STRIPE
    started = any(p.stripe_checkout_session_id for p in order.payments)
    held_over = bool(
        order.status == OrderStatus.PENDING and hold_ends and hold_ends <= now
    )
    return render_template(
        "billing/order.html",
        order=order,
        # Above 250 € a person's invoice needs their address: asked first.
        needs_address=order.status == OrderStatus.PENDING
        and services.needs_billing_address(db, order),
        invoice=_invoice_of(db, order),
        booking=booking,
        error=error,
        error_status=status,
        methods=methods,
        # Still to choose: a Stripe order nobody has started to pay.
        choosing=order.status == OrderStatus.PENDING
        and stripe_order
        and not started
        and not held_over,
        started=started,
        hold_ends=hold_ends,
        held_over=held_over,
        settings=services.payment_settings(db, order.location_id),
        format_iban=services.format_iban,
        tz=booking.location.timezone if booking else "Europe/Berlin",
    ), status


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
    back = local_path(request.form.get("back"), url_for("passes.plans"))
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
        return _render_order(db, order, error.message, error.status)
    return redirect(url, 303)


@bp.post("/billing/orders/<int:order_id>/method")
@login_required
def choose(order_id: int):
    """The person pays by bank transfer on invoice or on site."""
    db = get_db()
    try:
        order = services.choose_payment_method(
            db, current_user, order_id, request.form.get("payment_method", "")
        )
    except DomainError as error:
        if error.status == 404:
            raise
        order = services.get_order_for(db, current_user, order_id)
        return _render_order(db, order, error.message, error.status)
    if order.payment_method == PaymentMethod.ON_SITE:
        flash(gettext("Done: you pay at the space."), "success")
    else:
        flash(gettext("Done: please transfer the amount as shown below."), "success")
    return redirect(url_for("billing.order", order_id=order_id), 303)


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
