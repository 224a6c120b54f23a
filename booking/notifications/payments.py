"""The one reminder for an invoice or on-site order left unpaid past its due
date; after it the operator decides (record the payment, or cancel)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import force_locale
from sqlalchemy.orm import Session

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
