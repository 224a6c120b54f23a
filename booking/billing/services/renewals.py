"""Renewing memberships and company budgets paid by transfer or on site.

Stripe renews its own subscriptions; these renew here, by the
``renew-memberships`` job (booking/ops/jobs.py). When a period ends
(``periods``), the next period's order is opened with the same way to pay
and amount as the last one (a later price edit does not change a running
membership) and becomes a sale (``events.sale_made``: its invoice), due as
the location's terms say. The pass stays active: an unpaid renewal gets the
one reminder after its due date (``payment-reminders``), then the operator
decides (record the payment, or cancel the order, which ends the
membership). A membership cancelled at the period end is not renewed: it
ends when its period does.

Safe under retries and on several job hosts: one order per pass and period
(a unique key), the pass row locked (PostgreSQL: skipped when another run
holds it) while its periods are opened.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work, utcnow
from ...errors import BookingConflict, NotFound
from ...passes.models import Pass, PassStatus
from ...passes.queries import free_desk_of
from ...passes.services import NETWORK_TIMEZONE
from ...spaces.hours import local_date
from ...spaces.models import Location
from ..models import Order, OrderKind, PaymentMethod
from .methods import apply_method
from .orders import _open_order
from .periods import RECURRING_KINDS, label, local_midnight, period_end, renews_here

log = logging.getLogger(__name__)

# A job that was down for long catches up at most this many periods a pass.
_MAX_PERIODS = 24


def _lock_pass(db: Session, pass_id: int) -> Pass | None:
    query = select(Pass).where(Pass.id == pass_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.scalar(query)


def _last_period_order(db: Session, pass_id: int) -> Order | None:
    return db.scalar(
        select(Order)
        .where(Order.pass_id == pass_id, Order.period_starts_on.is_not(None))
        .order_by(Order.period_starts_on.desc())
    )


def _renew(db: Session, pass_: Pass, now: datetime) -> int:
    """Inside a unit: open the orders of the periods of ``pass_`` that have
    begun. Returns how many were opened."""
    last = _last_period_order(db, pass_.id)
    if last is None or last.payment_method == PaymentMethod.STRIPE:
        log.warning("pass %s renews here but has no period order", pass_.id)
        return 0
    location = db.get(Location, pass_.location_id) if pass_.location_id else None
    tz = location.timezone if location else NETWORK_TIMEZONE
    opened = 0
    while pass_.current_period_end <= now and opened < _MAX_PERIODS:
        starts_on = local_date(pass_.current_period_end, tz)
        ends_on = period_end(pass_.valid_from, starts_on)
        order = _open_order(
            db,
            kind=OrderKind(pass_.kind),
            user_id=last.user_id,
            amount_cents=last.amount_cents,
            description=f"{pass_.plan.name} {label(starts_on, ends_on)}",
            now=now,
            payment_method=PaymentMethod(last.payment_method),
            pass_id=pass_.id,
            company_id=last.company_id,
            location_id=last.location_id,
            period_starts_on=starts_on,
        )
        apply_method(
            db,
            order,
            PaymentMethod(last.payment_method),
            now=now,
            announce=False,
            renewal=True,
        )
        pass_.current_period_end = local_midnight(ends_on, tz)
        pass_.updated_at = now
        opened += 1
    return opened


def _end(db: Session, pass_: Pass, now: datetime) -> None:
    pass_.status = PassStatus.CANCELLED
    pass_.updated_at = now
    free_desk_of(db, pass_)


def renew_memberships(db: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Open the next period's order of every membership and budget paid by
    transfer or on site whose period has ended; end those cancelled at the
    period end. For cron; idempotent. Returns counts."""
    now = now or utcnow()
    due = list(
        db.scalars(
            select(Pass.id)
            .where(
                Pass.kind.in_(RECURRING_KINDS),
                Pass.stripe_subscription_id.is_(None),
                Pass.status.in_((PassStatus.ACTIVE, PassStatus.PAST_DUE)),
                Pass.current_period_end <= now,
            )
            .order_by(Pass.id)
            .limit(500)
        )
    )
    counts = {"renewed": 0, "ended": 0}
    for pass_id in due:
        try:
            with unit_of_work(db):
                pass_ = _lock_pass(db, pass_id)
                if (
                    pass_ is None
                    or not renews_here(pass_)
                    or pass_.status not in (PassStatus.ACTIVE, PassStatus.PAST_DUE)
                    or pass_.current_period_end > now
                ):
                    continue  # another run got there first
                if pass_.cancel_at_period_end:
                    _end(db, pass_, now)
                    counts["ended"] += 1
                elif _renew(db, pass_, now):
                    counts["renewed"] += 1
        except IntegrityError:
            # Another run opened this period (unique pass and period).
            db.rollback()
    return counts


def cancel_here_at_period_end(
    db: Session, actor: User, pass_id: int, *, now: datetime | None = None
) -> Pass:
    """The holder (or the company's administrator) ends a membership paid by
    transfer or on site when its current period runs out: no further order
    is opened. Raises NotFound, BookingConflict."""
    now = now or utcnow()
    with unit_of_work(db):
        pass_ = db.get(Pass, pass_id)
        holder_ok = pass_ is not None and (
            pass_.user_id == actor.id
            or (pass_.company is not None and pass_.company.admin_user_id == actor.id)
        )
        if not holder_ok:
            raise NotFound(_l("There is no such membership."))
        if not renews_here(pass_) or pass_.status not in (
            PassStatus.ACTIVE,
            PassStatus.PAST_DUE,
        ):
            raise BookingConflict(_l("This membership is not running."))
        pass_.cancel_at_period_end = True
        pass_.updated_at = now
    return pass_
