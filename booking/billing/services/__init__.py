"""Orders and payments: holds, Stripe Checkout, webhooks, refunds, reconcile.

Stripe is called only outside database transactions: either after a commit
(``on_commit``) or in a second step that first commits what it needs, then
calls Stripe, then stores the answer in a new unit of work. Every create call
carries an idempotency key derived from our own row ids.

One module per concern; other domains import the public services from here
(``from ..billing import services``); the modules import each other directly,
never this package.
"""

from __future__ import annotations

from .checkout import (
    abandon_checkout,
    ensure_customer,
    expire_holds,
    release_expired_holds,
    start_checkout,
)
from .fulfil import can_fulfil, fulfil_order
from .location_settings import (
    format_iban,
    get_payment_settings,
    save_payment_settings,
)
from .methods import (
    NoWayToPay,
    check_method,
    choose_payment_method,
    needs_billing_address,
    offered_methods,
    payment_settings,
    stripe_configured,
    walk_in_guest,
)
from .offline import (
    can_record_payments,
    close_open_order,
    is_overdue,
    mark_reminded,
    offline_refunds,
    open_orders,
    orders_to_remind,
    record_offline_payment,
    record_payback,
    recorded_payments,
)
from .orders import (
    CHECKOUT_LIFETIME,
    HOLD,
    PaymentRejected,
    PaymentUnavailable,
    as_utc,
    buy_plan,
    get_order_for,
    hold_for_payment,
    order_for_booking,
    order_for_pass,
    orders_of,
    payments_list,
)
from .refunds import (
    cancel_day_pass,
    refund_payment,
    settle_cancelled_booking,
)
from .renewals import renew_memberships
from .subscriptions import (
    PortalUnavailable,
    cancel_at_period_end,
    change_plan,
    open_portal,
)
from .webhooks import (
    handle_event,
    reconcile,
)

__all__ = [
    "NoWayToPay",
    "check_method",
    "close_open_order",
    "choose_payment_method",
    "format_iban",
    "is_overdue",
    "mark_reminded",
    "offline_refunds",
    "open_orders",
    "recorded_payments",
    "orders_to_remind",
    "get_payment_settings",
    "needs_billing_address",
    "offered_methods",
    "payment_settings",
    "save_payment_settings",
    "stripe_configured",
    "walk_in_guest",
    "CHECKOUT_LIFETIME",
    "HOLD",
    "PaymentRejected",
    "PaymentUnavailable",
    "PortalUnavailable",
    "abandon_checkout",
    "as_utc",
    "buy_plan",
    "cancel_at_period_end",
    "can_fulfil",
    "can_record_payments",
    "cancel_day_pass",
    "change_plan",
    "ensure_customer",
    "expire_holds",
    "fulfil_order",
    "get_order_for",
    "handle_event",
    "hold_for_payment",
    "open_portal",
    "order_for_booking",
    "order_for_pass",
    "orders_of",
    "payments_list",
    "reconcile",
    "record_offline_payment",
    "record_payback",
    "renew_memberships",
    "refund_payment",
    "release_expired_holds",
    "settle_cancelled_booking",
    "start_checkout",
]
