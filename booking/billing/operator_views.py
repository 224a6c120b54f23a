"""The operator's money pages: payments, open invoices and on-site orders
(record a payment, give up on one), and each location's ways to pay."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from ..bookings.models import Booking
from ..csv_export import csv_response
from ..db import get_db, utcnow
from ..errors import DomainError, NotFound
from ..passes.services import NETWORK_TIMEZONE, parse_cents
from ..security import operator_required
from ..spaces.hours import local_date
from ..spaces.services import get_managed_location, list_locations, managed_location_ids
from ..validation import parse_id
from . import services
from .models import OfflinePaymentKind, Order
from .network_settlement import month_bounds, network_settlement, settlement_csv


def _locations(db):
    ids = managed_location_ids(db, current_user)
    return [loc for loc in list_locations(db) if ids is None or loc.id in ids]


@operator_required
def payments():
    db = get_db()
    today = local_date(utcnow(), NETWORK_TIMEZONE)
    return render_template(
        "billing/payments.html",
        payments=services.payments_list(db, current_user),
        open_orders=services.open_orders(db, current_user),
        recorded=services.recorded_payments(db, current_user),
        refunds=services.offline_refunds(db, current_user),
        is_overdue=lambda order: services.is_overdue(order, today),
        today=today,
        kinds=list(OfflinePaymentKind),
        form_key=secrets.token_urlsafe(12),
        locations=_locations(db),
        tz=NETWORK_TIMEZONE,
    )


TYPED_FIELDS = ("amount", "kind", "paid_on")


def _refused(error: DomainError, card: str):
    """Back to the card whose form was refused: the message stands there,
    and what was typed is filled in again (payments.html)."""
    flash(str(error.message), "error")
    typed = {key: request.form.get(key, "")[:40] for key in TYPED_FIELDS}
    return redirect(url_for("billing.payments", at=card, **typed) + f"#{card}", 303)


@operator_required
def record_payment(order_id: int):
    """Record a transfer, cash or card-terminal payment against an order."""
    db = get_db()
    form = request.form
    try:
        from ..bookings.rules import parse_date

        services.record_offline_payment(
            db,
            current_user,
            order_id,
            amount_cents=parse_cents(form.get("amount"), "amount_cents"),
            kind=form.get("kind", ""),
            paid_on=parse_date(form.get("paid_on", "")),
            idempotency_key=(form.get("key") or "")[:64] or None,
        )
    except DomainError as error:
        if error.status == 404:
            raise
        return _refused(error, f"order-{order_id}")
    flash(gettext("Payment recorded."), "success")
    return redirect(url_for("billing.payments"), 303)


@operator_required
def record_payback(order_id: int):
    """Record that the money of a cancelled order went back to the customer."""
    from ..bookings.rules import parse_date

    db = get_db()
    form = request.form
    try:
        services.record_payback(
            db,
            current_user,
            order_id,
            amount_cents=parse_cents(form.get("amount"), "amount_cents"),
            kind=form.get("kind", ""),
            paid_on=parse_date(form.get("paid_on", "")),
        )
    except DomainError as error:
        if error.status == 404:
            raise
        return _refused(error, f"payback-{order_id}")
    flash(gettext("Recorded as paid back."), "success")
    return redirect(url_for("billing.payments"), 303)


@operator_required
def close_order(order_id: int):
    """Give up on an unpaid order: its booking is cancelled (through the
    booking path) or the order closes; invoicing cancels its invoice."""
    from ..bookings.services import cancel_booking

    db = get_db()
    order = db.get(Order, parse_id(order_id, "order_id"))
    if order is None or not services.can_record_payments(db, current_user, order):
        raise NotFound()
    booking = db.get(Booking, order.booking_id) if order.booking_id else None
    try:
        if booking is not None and booking.is_active and booking.ends_at > utcnow():
            cancel_booking(db, current_user, booking.id)
        else:
            services.close_open_order(db, current_user, order_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(url_for("billing.payments"), 303)
    flash(gettext("Order cancelled."), "success")
    return redirect(url_for("billing.payments"), 303)


@operator_required
def payment_settings(location_id: int):
    db = get_db()
    location = get_managed_location(db, current_user, location_id)
    error = None
    if request.method == "POST":
        try:
            services.save_payment_settings(
                db, current_user, location_id, request.form.to_dict()
            )
        except DomainError as error_:
            if error_.status in (403, 404):
                raise
            error = error_
        else:
            flash(gettext("Ways to pay saved."), "success")
            return redirect(
                url_for("billing.payment_settings", location_id=location_id), 303
            )
    settings = services.get_payment_settings(db, current_user, location_id)
    return render_template(
        "billing/payment_settings.html",
        location=location,
        settings=settings,
        form=request.form if error else None,
        error=error,
        stripe_configured=services.stripe_configured(),
        format_iban=services.format_iban,
    ), (error.status if error else 200)


@operator_required
def settlement():
    """The network settlement of a month, per operator, with euro amounts
    (``?format=csv``: the same as a spreadsheet)."""
    db = get_db()
    this_month = local_date(utcnow(), NETWORK_TIMEZONE).strftime("%Y-%m")
    month = request.args.get("month") or this_month
    try:
        result = network_settlement(db, month)
    except ValueError:
        month = this_month
        result = network_settlement(db, month)
    if request.args.get("format") == "csv":
        return csv_response(settlement_csv(result), f"settlement-{month}.csv")
    first, _last, _starts, _ends = month_bounds(month)
    return render_template(
        "billing/settlement.html",
        settlement=result,
        month=month,
        first=first,
        previous=(first.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
        following=(first.replace(day=28) + timedelta(days=4)).strftime("%Y-%m"),
    )


def register(bp: Blueprint) -> None:
    """Add these pages to the billing blueprint (endpoints billing.<name>)."""
    bp.add_url_rule("/billing/payments", view_func=payments)
    bp.add_url_rule(
        "/billing/orders/<int:order_id>/payments",
        view_func=record_payment,
        methods=["POST"],
    )
    bp.add_url_rule(
        "/billing/orders/<int:order_id>/close", view_func=close_order, methods=["POST"]
    )
    bp.add_url_rule(
        "/billing/orders/<int:order_id>/payback",
        view_func=record_payback,
        methods=["POST"],
    )
    bp.add_url_rule(
        "/billing/locations/<int:location_id>/payment",
        view_func=payment_settings,
        methods=["GET", "POST"],
    )
    bp.add_url_rule("/billing/settlement", view_func=settlement)
