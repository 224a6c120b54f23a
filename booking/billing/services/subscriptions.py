"""Memberships in Stripe: the customer portal, cancelling, changing the plan."""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work, utcnow
from ...errors import BookingConflict, DomainError, InvalidInput, NotFound
from ...passes.models import Company, Pass, PassStatus, Plan
from ...passes.services import apply_subscription
from .. import stripe_client
from ..models import (
    BillingCustomer,
)
from ..stripe_client import StripeRejected, StripeUnavailable
from .orders import _key
from .periods import renews_here
from .renewals import cancel_here_at_period_end

log = logging.getLogger(__name__)


class PortalUnavailable(DomainError):
    status = 503
    code = "payment_unavailable"
    default_message = _l(
        "The payment service cannot be reached right now. Please try again in a moment."
    )


def _stripe_customer_of(
    db: Session, *, user: User | None = None, company_id: int | None = None
) -> str | None:
    if company_id is not None:
        column, holder_id = BillingCustomer.company_id, company_id
    else:
        column, holder_id = BillingCustomer.user_id, user.id
    return db.scalar(
        select(BillingCustomer.stripe_customer_id).where(column == holder_id)
    )


def open_portal(
    db: Session, actor: User, *, return_url: str, company_id: int | None = None
) -> str:
    """A Stripe customer-portal session: payment method (card or SEPA
    mandate), invoices to download, cancellation. For a company, only its
    administrator. Raises NotFound, InvalidInput, PortalUnavailable."""
    if company_id is not None:
        company = db.get(Company, company_id)
        if company is None or company.admin_user_id != actor.id:
            raise NotFound(_l("There is no such company account."))
    customer = _stripe_customer_of(db, user=actor, company_id=company_id)
    if customer is None:
        raise InvalidInput(_l("There are no payments to manage yet."))
    db.commit()
    try:
        session = stripe_client.create_portal_session(
            customer=customer, return_url=return_url
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("no portal session for %s: %s", customer, error)
        raise PortalUnavailable() from None
    return session["url"]


def _own_subscription(db: Session, actor: User, pass_id: int):
    pass_ = db.get(Pass, pass_id)
    holder_ok = pass_ is not None and (
        pass_.user_id == actor.id
        or (pass_.company is not None and pass_.company.admin_user_id == actor.id)
    )
    if not holder_ok:
        raise NotFound(_l("There is no such membership."))
    if not (pass_.stripe_subscription_id or renews_here(pass_)) or pass_.status not in (
        PassStatus.ACTIVE,
        PassStatus.PAST_DUE,
    ):
        raise BookingConflict(_l("This membership is not running."))
    return pass_


def cancel_at_period_end(
    db: Session, actor: User, pass_id: int, *, now: datetime | None = None
):
    """The member ends their membership when the paid month runs out; days
    stay usable until then. Raises NotFound, BookingConflict,
    PortalUnavailable."""
    now = now or utcnow()
    pass_ = db.get(Pass, pass_id)
    if pass_ is not None and renews_here(pass_):
        # Paid by transfer or on site: no subscription to tell.
        return cancel_here_at_period_end(db, actor, pass_id, now=now)
    pass_ = _own_subscription(db, actor, pass_id)
    subscription_id, stamp = pass_.stripe_subscription_id, int(now.timestamp())
    db.commit()
    try:
        subscription = stripe_client.update_subscription(
            subscription_id,
            {"cancel_at_period_end": True},
            idempotency_key=_key(f"pass-{pass_id}-cancel-{stamp}"),
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("could not cancel subscription %s: %s", subscription_id, error)
        raise PortalUnavailable() from None
    with unit_of_work(db):
        return apply_subscription(db, subscription, now=now)


def _ensure_price(db: Session, plan) -> str:
    """The recurring Stripe price of a plan, created once per amount."""
    if plan.stripe_price_id:
        return plan.stripe_price_id
    plan_id, name, cents = plan.id, plan.name, plan.price_cents
    db.commit()
    price = stripe_client.create_price(
        {
            "currency": "eur",
            "unit_amount": cents,
            "recurring": {"interval": "month"},
            "product_data": {"name": name},
            "tax_behavior": "inclusive",
            "metadata": {"plan_id": str(plan_id)},
        },
        idempotency_key=_key(f"plan-{plan_id}-price-{cents}"),
    )
    with unit_of_work(db):
        plan = db.get(Plan, plan_id)
        if plan.price_cents == cents:
            plan.stripe_price_id = price["id"]
    return price["id"]


def change_plan(db: Session, actor: User, pass_id: int, plan_id: int, *, now=None):
    """Move a running subscription to another plan of the same kind; Stripe
    prorates (credit for the unused part of the month on the next invoice).
    The new days and hours apply at once. Raises NotFound, InvalidInput,
    BookingConflict, PortalUnavailable."""
    now = now or utcnow()
    pass_ = _own_subscription(db, actor, pass_id)
    if renews_here(pass_):
        raise BookingConflict(
            _l(
                "A membership paid by transfer or on site is changed by the "
                "space: please ask its operator."
            )
        )
    plan = db.get(Plan, plan_id)
    if plan is None or not plan.is_active or plan.kind != pass_.kind:
        raise InvalidInput(_l("Choose another plan of the same kind."), field="plan")
    if plan.id == pass_.plan_id:
        raise InvalidInput(_l("This is already your plan."), field="plan")
    subscription_id, stamp = pass_.stripe_subscription_id, int(now.timestamp())
    try:
        price_id = _ensure_price(db, plan)
        current = stripe_client.retrieve_subscription(subscription_id)
        item_id = current["items"]["data"][0]["id"]
        subscription = stripe_client.update_subscription(
            subscription_id,
            {
                "items": [{"id": item_id, "price": price_id}],
                "proration_behavior": "create_prorations",
                "metadata": {"pass_id": str(pass_id), "plan_id": str(plan.id)},
            },
            idempotency_key=_key(f"pass-{pass_id}-plan-{plan.id}-{stamp}"),
        )
    except (StripeUnavailable, StripeRejected) as error:
        log.warning("could not change subscription %s: %s", subscription_id, error)
        raise PortalUnavailable() from None
    with unit_of_work(db):
        return apply_subscription(db, subscription, now=now)
