"""Shared steps of the billing tests: buy a plan and pay it at the emulator."""

from __future__ import annotations

from datetime import date, timedelta

from booking.billing import services as billing
from booking.billing.models import Payment
from booking.passes.models import Pass

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"


def fresh(db) -> None:
    """Requests run in their own sessions: end ours and forget what it read."""
    db.rollback()
    db.expire_all()


def buy_and_pay(
    db, buyer, plan_id: int, stripe_emulator, webhooks, *, company_id=None, **bought
) -> Pass:
    """Buy a plan, pay its Checkout Session, deliver the events. ``bought``:
    the day (and part) of a day pass."""
    order = billing.buy_plan(db, buyer, plan_id, company_id=company_id, **bought)
    billing.start_checkout(
        db, buyer, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment = db.get(Payment, order.payments[-1].id)
    paid = stripe_emulator.pay(payment.stripe_checkout_session_id)
    assert paid["status"] == "complete", paid
    webhooks.deliver()
    fresh(db)
    return db.get(Pass, order.pass_id)


def weekdays(first: date, count: int) -> list[date]:
    """``count`` weekdays from ``first`` on, all in ``first``'s month when it
    leaves room (otherwise from the next month's first Monday)."""
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    if days[-1].month != first.month:
        start = days[-1].replace(day=1)
        while start.weekday() != 0:
            start += timedelta(days=1)
        return weekdays(start, count)
    return days


def set_card(stripe_emulator, customer: str, number: str) -> None:
    """Make ``number`` the customer's default card (as the portal would)."""
    method = stripe_emulator.request(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
        },
    )
    stripe_emulator.request(
        "POST", f"/v1/payment_methods/{method['id']}/attach", {"customer": customer}
    )
    stripe_emulator.request(
        "POST",
        f"/v1/customers/{customer}",
        {"invoice_settings": {"default_payment_method": method["id"]}},
    )
