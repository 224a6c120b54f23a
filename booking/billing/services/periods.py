"""Month-long periods of memberships and company budgets paid by transfer
or on site (Stripe keeps the periods of its own subscriptions).

A period runs from its first day to the same day of the next month,
anchored on the day the membership began, so short months do not shift it:
31.01. → 28.02. → 31.03. Its end is stored on the pass
(``current_period_end``, local midnight in UTC); each order pays one period
(``Order.period_starts_on``).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ...passes.models import Pass, PlanKind
from ..models import Order

RECURRING_KINDS = (PlanKind.MEMBERSHIP, PlanKind.COMPANY)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(anchor: date, starts_on: date) -> date:
    """The first day after the period beginning on ``starts_on``."""
    months = (starts_on.year - anchor.year) * 12 + starts_on.month - anchor.month
    end = add_months(anchor, months + 1)
    while end <= starts_on:  # starts_on later in its month than the anchor
        months += 1
        end = add_months(anchor, months + 1)
    return end


def local_midnight(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz_name)).astimezone(UTC)


def renews_here(pass_: Pass) -> bool:
    return pass_.renews_here


def label(starts_on: date, ends_on: date) -> str:
    """ "01.12.2026–31.12.2026": the period an order pays (last day shown)."""
    last = ends_on - timedelta(days=1)
    return f"{starts_on:%d.%m.%Y}–{last:%d.%m.%Y}"


def start_first_period(order: Order, pass_: Pass, today: date, tz_name: str) -> None:
    """Inside a unit: a membership bought to be paid by transfer or on site
    begins today; its order pays the first period."""
    if order.period_starts_on is not None:
        return
    pass_.valid_from = today
    ends_on = period_end(today, today)
    pass_.current_period_end = local_midnight(ends_on, tz_name)
    order.period_starts_on = today
    order.description = f"{order.description} {label(today, ends_on)}"[:300]
