"""The one reminder for an invoice or on-site order left unpaid past its due
date; after it the operator decides (record the payment, or cancel)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import force_locale
from sqlalchemy.orm import Session

from ..auth.models import User
from ..billing import services as billing
from ..billing.models import PaymentMethod
from ..db import utcnow
from ..i18n import localdate, locale_for
from .models import NotificationKind
from .services import send_once


def remind_overdue_payments(db: Session, *, now: datetime | None = None) -> int:
    """Send each overdue order's holder one reminder. For cron; safe to run
    any number of times (the order is claimed first, the mail keyed by it).
    Returns the number of mails sent."""
    now = now or utcnow()
    sent = 0
    for order in billing.orders_to_remind(db, now):
        order_id, user = order.id, order.user
        settings = billing.payment_settings(db, order.location_id)
        with force_locale(locale_for(user)):
            context = {
                "description": order.description,
                "amount": order.open_cents / 100,
                "currency": order.currency.upper(),
                "due_on": order.due_on,
                "by_transfer": order.payment_method == PaymentMethod.INVOICE,
                "account_holder": settings.account_holder,
                "iban": billing.format_iban(settings.iban),
                "bic": settings.bic,
                "reference": order.id,
                "order_url": f"/billing/orders/{order.id}",
                "subject_args": {"day": localdate(order.due_on, fmt="medium")},
            }
        if not billing.mark_reminded(db, order_id, now):
            continue
        if send_once(
            db, f"payment_due:{order_id}", user, NotificationKind.PAYMENT_DUE, context
        ):
            sent += 1
    return sent


def on_invoice_issued(invoice, *, db: Session) -> None:
    """After the commit of a new invoice (``events.invoice_issued``): mail its
    recipient (the member, or the company's administrator) the number, the
    amount and, for a transfer, where to pay by when. Once per invoice; the
    document itself stays behind the login (``/account/invoices``)."""
    if invoice.user_id is None:
        return
    user = db.get(User, invoice.user_id)
    if user is None or not user.is_active:
        return
    by_transfer = (
        invoice.payment_method == PaymentMethod.INVOICE and invoice.due_on is not None
    )
    context = {
        "invoice": invoice,
        "cancellation": invoice.kind == "cancellation",
        "amount": abs(invoice.gross_cents) / 100,  # a cancellation says "Storno"
        "currency": invoice.currency.upper(),
        "by_transfer": by_transfer,
        "iban": billing.format_iban(invoice.issuer_iban or ""),
        "invoices_url": "/account/invoices",
        "subject_args": {"number": invoice.number, "issuer": invoice.issuer_name},
    }
    send_once(
        db,
        f"invoice_issued:{invoice.id}",
        user,
        NotificationKind.INVOICE_ISSUED,
        context,
    )
