"""Memberships and company budgets billed monthly: their state from Stripe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import events
from ...validation import is_digits
from ..models import (
    Pass,
    PassStatus,
    Plan,
)
from ..queries import free_desk_of

DEFAULT_GRACE_DAYS = 7


_SUBSCRIPTION_STATES = {
    "active": PassStatus.ACTIVE,
    "trialing": PassStatus.ACTIVE,
    "past_due": PassStatus.PAST_DUE,
    "unpaid": PassStatus.PAST_DUE,
    "canceled": PassStatus.CANCELLED,
    "incomplete_expired": PassStatus.CANCELLED,
    "incomplete": PassStatus.PENDING,
}


def apply_subscription(
    db: Session, subscription: dict, *, now: datetime
) -> Pass | None:
    """Bring a pass in line with the current Stripe subscription object.

    Called with the object as Stripe returns it now, so the order in which
    events arrive does not matter. Runs inside the caller's unit of work.
    """
    pass_ = db.scalar(
        select(Pass).where(Pass.stripe_subscription_id == subscription["id"])
    )
    if pass_ is None:
        pass_id = (subscription.get("metadata") or {}).get("pass_id")
        if pass_id and is_digits(str(pass_id)):
            pass_ = db.get(Pass, int(pass_id))
            if pass_ is not None and pass_.stripe_subscription_id not in (
                None,
                subscription["id"],
            ):
                pass_ = None
    if pass_ is None:
        return None
    pass_.stripe_subscription_id = subscription["id"]
    status = _SUBSCRIPTION_STATES.get(subscription.get("status") or "")
    if status is None:
        return pass_
    if pass_.status == PassStatus.CANCELLED and status != PassStatus.CANCELLED:
        # A cancelled subscription never comes back in Stripe; a late
        # "active" snapshot must not revive it.
        return pass_
    pass_.stripe_status = subscription.get("status")
    pass_.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    plan = _plan_of(db, subscription)
    if plan is not None and plan.id != pass_.plan_id and plan.kind == pass_.kind:
        _switch_plan(db, pass_, plan)
    period_end = subscription.get("current_period_end")
    if period_end:
        pass_.current_period_end = datetime.fromtimestamp(int(period_end), UTC)
    if status == PassStatus.PAST_DUE:
        if pass_.past_due_since is None:
            grace = int(
                current_app.config.get("BILLING_GRACE_DAYS", DEFAULT_GRACE_DAYS)
            )
            pass_.past_due_since = now
            pass_.grace_until = now + timedelta(days=grace)
            key = f"{subscription['id']}:{subscription.get('latest_invoice') or now}"
            # notifications mails the holder.
            events.send_after_commit(db, events.renewal_failed, pass_, key=key)
    else:
        pass_.past_due_since = None
        pass_.grace_until = None
    pass_.status = status
    pass_.updated_at = now
    if status == PassStatus.CANCELLED:
        free_desk_of(db, pass_)
    return pass_


def _plan_of(db: Session, subscription: dict) -> Plan | None:
    """The plan a subscription bills now: named in its metadata by a change
    of plan, or known by the Stripe price of its item."""
    plan_id = str((subscription.get("metadata") or {}).get("plan_id") or "")
    if is_digits(plan_id):
        return db.get(Plan, int(plan_id))
    items = (subscription.get("items") or {}).get("data") or []
    price = (items[0].get("price") or items[0].get("plan") or {}) if items else {}
    price_id = price.get("id") if isinstance(price, dict) else None
    if not price_id:
        return None
    return db.scalar(select(Plan).where(Plan.stripe_price_id == price_id))


def _switch_plan(db: Session, pass_: Pass, plan: Plan) -> None:
    """The subscription now bills another plan: its days, hours and door
    access apply from now on (days already used this month still count).
    A plan without a fixed desk, or at another location, releases it."""
    if not plan.fixed_desk or plan.location_id != pass_.location_id:
        free_desk_of(db, pass_)
    pass_.plan_id = plan.id
    pass_.credits = plan.days
    pass_.room_hours = plan.room_hours
    pass_.access_24_7 = plan.access_24_7
    pass_.location_id = plan.location_id
