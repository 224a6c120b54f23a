"""The network settlement: per month and operator, what was sold where, what
was used where, and who owes whom in euros.

Passes are sold by one operator (a location's plans) or by the network
(network-wide plans, sold by its administrators) and used wherever they are
valid. A day booked on a pass at a location of another operator earns that
operator the day's value, owed by the seller:

- a pass with a number of days (day pass 1, pack N, membership N a month):
  its plan price divided by those days;
- an unlimited membership: its price shared among the days it was used that
  month.

Cents are rounded down per location and pass; what rounding leaves stays with
the seller. An operator is the set of people running a location (locations
run by the same people settle as one operator).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..csv_export import Cents, csv_text
from ..i18n import localdate
from ..passes.models import CreditEntry, Pass
from ..passes.services import NETWORK_TIMEZONE
from ..passes.services.credits import DAY
from ..spaces.models import Location
from .models import Order, OrderStatus

NETWORK = "network"


@dataclass
class OperatorMonth:
    """One operator's (or the network's) month."""

    key: str
    name: str
    locations: list[str] = field(default_factory=list)
    sold_count: int = 0
    sold_cents: int = 0
    days_used: int = 0  # days booked on passes at their locations
    days_from_others: int = 0  # of those, on passes other operators sold
    owed_cents: int = 0  # what others owe them for those days
    owes_cents: int = 0  # what they owe others for their passes used there

    @property
    def balance_cents(self) -> int:
        """Positive: the operator is owed this; negative: owes it."""
        return self.owed_cents - self.owes_cents


@dataclass
class Flow:
    """Days of one seller's passes used at another operator's locations."""

    seller: str
    user: str
    days: int
    cents: int


@dataclass
class Settlement:
    month: str  # "2026-12"
    operators: list[OperatorMonth]
    flows: list[Flow]


def month_bounds(month: str) -> tuple[date, date, datetime, datetime]:
    """First and last day of a "YYYY-MM" month, and its instants in UTC
    (Berlin time). Raises ValueError for anything else."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    tz = ZoneInfo(NETWORK_TIMEZONE)
    starts = datetime(first.year, first.month, 1, tzinfo=tz).astimezone(UTC)
    ends = datetime(after.year, after.month, 1, tzinfo=tz).astimezone(UTC)
    return first, date.fromordinal(after.toordinal() - 1), starts, ends


def _operators(db: Session) -> tuple[dict[int, str], dict[str, OperatorMonth]]:
    """Each location's operator key, and an empty month per operator."""
    of_location: dict[int, str] = {}
    months: dict[str, OperatorMonth] = {
        NETWORK: OperatorMonth(NETWORK, str(_l("Network (network-wide plans)")))
    }
    for location in db.scalars(select(Location).order_by(Location.name)):
        people = sorted(location.operators, key=lambda user: user.id)
        key = "op:" + ",".join(str(user.id) for user in people)
        of_location[location.id] = key
        month = months.setdefault(
            key,
            OperatorMonth(key, ", ".join(u.name or u.email for u in people) or "–"),
        )
        month.locations.append(location.name)
    return of_location, months


def _seller_location(pass_: Pass) -> int | None:
    if pass_.location_id is not None:
        return pass_.location_id
    if pass_.company is not None:
        return pass_.company.location_id
    return None


def network_settlement(db: Session, month: str) -> Settlement:
    """The settlement of a month ("YYYY-MM"). Raises ValueError."""
    first, last, starts, ends = month_bounds(month)
    of_location, months = _operators(db)

    def operator_of(location_id: int | None) -> str:
        return NETWORK if location_id is None else of_location[location_id]

    sales = db.execute(
        select(Order.location_id, func.count(), func.sum(Order.amount_cents))
        .where(
            Order.status == OrderStatus.PAID,
            Order.paid_at >= starts,
            Order.paid_at < ends,
        )
        .group_by(Order.location_id)
    ).all()
    for location_id, count, cents in sales:
        seller = months[operator_of(location_id)]
        seller.sold_count += int(count)
        seller.sold_cents += int(cents or 0)

    used = db.execute(
        select(
            CreditEntry.pass_id, CreditEntry.location_id, func.sum(-CreditEntry.delta)
        )
        .where(
            CreditEntry.unit == DAY,
            CreditEntry.booking_id.is_not(None),
            CreditEntry.location_id.is_not(None),
            CreditEntry.booked_on >= first,
            CreditEntry.booked_on <= last,
        )
        .group_by(CreditEntry.pass_id, CreditEntry.location_id)
    ).all()
    days_of_pass: dict[int, int] = defaultdict(int)
    for pass_id, _location_id, days in used:
        days_of_pass[pass_id] += int(days or 0)
    flows: dict[tuple[str, str], Flow] = {}
    for pass_id, location_id, days in used:
        days = int(days or 0)
        if days <= 0:
            continue
        pass_ = db.get(Pass, pass_id)
        seller = operator_of(_seller_location(pass_))
        user = operator_of(location_id)
        months[user].days_used += days
        if seller == user:
            continue
        price = pass_.plan.price_cents
        if pass_.credits:
            cents = price * days // pass_.credits
        else:
            cents = price * days // max(days_of_pass[pass_id], 1)
        months[user].days_from_others += days
        months[user].owed_cents += cents
        months[seller].owes_cents += cents
        flow = flows.setdefault(
            (seller, user), Flow(months[seller].name, months[user].name, 0, 0)
        )
        flow.days += days
        flow.cents += cents
    operators = [
        m for m in months.values() if m.key != NETWORK or m.sold_count or m.owes_cents
    ]
    return Settlement(month, operators, list(flows.values()))


def settlement_csv(settlement: Settlement) -> str:
    """One line per operator, headers and month in the reader's language,
    amounts in euros in the reader's dialect (csv_export)."""
    header = [
        _l("Month"),
        _l("Operator"),
        _l("Locations"),
        _l("Sales"),
        _l("Sold (EUR)"),
        _l("Days used"),
        _l("Days on others' passes"),
        _l("Owed to the operator (EUR)"),
        _l("Owed by the operator (EUR)"),
        _l("Balance (EUR)"),
    ]
    first = month_bounds(settlement.month)[0]
    month = localdate(first, skeleton="yMMMM")
    rows = [
        [
            month,
            m.name,
            "; ".join(m.locations),
            m.sold_count,
            Cents(m.sold_cents),
            m.days_used,
            m.days_from_others,
            Cents(m.owed_cents),
            Cents(m.owes_cents),
            Cents(m.balance_cents),
        ]
        for m in settlement.operators
    ]
    return csv_text(header, rows)
