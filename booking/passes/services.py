"""Prices, credits and standing: how a booking is settled and who may enter.

``settle_booking`` runs inside ``create_booking``'s unit of work (called by
``billing.settlement``) and decides: free, paid from a credit (membership,
company budget, pack) or still owed, which billing holds for payment.
``member_standing`` is the one predicate the door-access rule asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .. import events
from ..auth.models import User
from ..bookings.models import Booking, DayPart
from ..bookings.queries import location_closed_on
from ..bookings.rules import BookableLocation, BookableResource, plan_for
from ..db import unit_of_work, utcnow
from ..errors import DomainError, Forbidden, InvalidInput, NotFound
from ..spaces.hours import local_date
from ..spaces.models import Location, Resource
from ..spaces.services import can_manage, get_managed_location, managed_location_ids
from ..validation import is_digits, parse_id, parse_int
from . import fixed_desks
from .models import (
    Company,
    CompanyMember,
    CreditEntry,
    Pass,
    PassStatus,
    Plan,
    PlanKind,
    Standing,
)

DEFAULT_GRACE_DAYS = 7
# Which entitlement pays first: a day pass bought for that very day (it
# lapses otherwise), the member's own subscription, then the employer's
# budget, then a prepaid pack (whose days do not lapse monthly).
_PREFERENCE = {
    PlanKind.DAY_PASS: 0,
    PlanKind.MEMBERSHIP: 1,
    PlanKind.COMPANY: 2,
    PlanKind.PACK: 3,
}
# Passes bought for a fixed span of days rather than billed monthly.
_DATED = (PlanKind.PACK, PlanKind.DAY_PASS)
_USABLE = (PassStatus.ACTIVE, PassStatus.PAST_DUE)
# Ledger units: desk-days, meeting-room minutes.
DAY = "day"
MINUTE = "minute"


class MembershipSuspended(DomainError):
    status = 402
    code = "membership_suspended"
    default_message = _l(
        "Your membership payment is overdue. New bookings are paused until it "
        "is paid: please update your payment method."
    )


# --- prices -----


def booking_price_cents(resource: BookableResource, booking: Booking) -> int:
    """Gross price of a booking from the prices on its resource row."""
    if booking.part == DayPart.FULL:
        return resource.price_day_cents
    if booking.part in (DayPart.AM, DayPart.PM):
        return resource.price_half_day_cents or resource.price_day_cents
    minutes = int((booking.ends_at - booking.starts_at).total_seconds()) // 60
    return -(-resource.price_hour_cents * minutes // 60)


def set_resource_prices(
    db: Session, actor: User, resource_id: int, values: dict[str, Any]
) -> Resource:
    """Set a resource's gross prices in cents. Raises NotFound, Forbidden,
    InvalidInput."""
    with unit_of_work(db):
        resource = db.get(Resource, resource_id)
        if resource is None:
            raise NotFound(_l("There is no such desk or room."))
        if not can_manage(db, actor, resource.location_id):
            raise Forbidden()
        for field in ("price_day_cents", "price_half_day_cents", "price_hour_cents"):
            if field in values:
                setattr(resource, field, parse_cents(values[field], field))
    return resource


def parse_cents(value: Any, field: str) -> int:
    """Euros as typed by a person ("12", "12.50", "12,5") to integer cents."""
    if isinstance(value, int) and not isinstance(value, bool):
        cents = value
    else:
        text = str(value or "0").strip().replace(",", ".")
        euros, _, frac = text.partition(".")
        if not is_digits(euros) or (frac and (not is_digits(frac) or len(frac) > 2)):
            raise InvalidInput(_l("Enter an amount like 12.50."), field=field)
        cents = int(euros) * 100 + int((frac + "00")[:2])
    if cents < 0 or cents > 10_000_000:
        raise InvalidInput(_l("Enter an amount like 12.50."), field=field)
    return cents


# --- plans -----


def create_plan(db: Session, actor: User, values: dict[str, Any]) -> Plan:
    """Create a plan; operators for their locations, admins network-wide.

    Raises Forbidden, InvalidInput.
    """
    try:
        kind = PlanKind(values.get("kind"))
    except ValueError:
        raise InvalidInput(_l("Choose the kind of plan."), field="kind") from None
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 120:
        raise InvalidInput(_l("Give the plan a name."), field="name")
    location_id = values.get("location_id") or None
    if location_id is not None:
        location_id = parse_id(location_id, "location_id")
    vat_rate_bp = values.get("vat_rate_bp")
    vat_rate_bp = parse_int(
        current_app.config.get("BILLING_VAT_RATE_BP", 1900)
        if vat_rate_bp in (None, "")
        else vat_rate_bp,
        "vat_rate_bp",
        low=0,
        high=10_000,
        message=_l("The VAT rate is between 0 and 100 %."),
    )
    with unit_of_work(db):
        if location_id is None:
            if not actor.is_admin:
                raise Forbidden(_l("Only administrators sell network-wide plans."))
        else:
            get_managed_location(db, actor, location_id)
        days = _optional_int(values.get("days"), "days")
        valid_days = _optional_int(values.get("valid_days"), "valid_days")
        if kind == PlanKind.PACK and (days is None or valid_days is None):
            raise InvalidInput(
                _l("A pack needs a number of days and a validity."), field="days"
            )
        if kind == PlanKind.DAY_PASS:
            # One day (or half day) on the date the person picks when buying.
            days, valid_days = 1, None
        fixed_desk = kind == PlanKind.MEMBERSHIP and _checked(values.get("fixed_desk"))
        if fixed_desk:
            if location_id is None:
                raise InvalidInput(
                    _l("A fixed desk belongs to one location: choose it."),
                    field="location_id",
                )
            # The desk is the member's every open day.
            days = None
        plan = Plan(
            name=name,
            kind=kind,
            price_cents=parse_cents(values.get("price"), "price"),
            currency="EUR",
            vat_rate_bp=vat_rate_bp,
            location_id=location_id,
            days=days,
            valid_days=valid_days if kind == PlanKind.PACK else None,
            room_hours=(
                _optional_int(values.get("room_hours"), "room_hours")
                if kind not in _DATED
                else None
            ),
            access_24_7=bool(values.get("access_24_7")) and kind not in _DATED,
            half_day=kind == PlanKind.DAY_PASS and _checked(values.get("half_day")),
            fixed_desk=fixed_desk,
            is_active=True,
        )
        db.add(plan)
        db.flush()
    return plan


def _checked(value: Any) -> bool:
    """A form checkbox or a JSON boolean."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def _optional_int(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(_l("Enter a whole number."), field=field) from None
    if number < 1 or number > 100_000:
        raise InvalidInput(_l("Enter a whole number."), field=field)
    return number


def plans_for_sale(db: Session, location_id: int | None = None) -> list[Plan]:
    query = select(Plan).where(Plan.is_active.is_(True))
    if location_id is not None:
        query = query.where(
            or_(Plan.location_id.is_(None), Plan.location_id == location_id)
        )
    return list(db.scalars(query.order_by(Plan.kind, Plan.price_cents, Plan.id)))


def plans_for_operator(db: Session, actor: User) -> list[Plan]:
    """The plans of the actor's locations, then the network-wide ones
    (administrators: all, active or not)."""
    ids = managed_location_ids(db, actor)
    query = select(Plan)
    if ids is not None:
        query = query.where(or_(Plan.location_id.in_(ids), Plan.location_id.is_(None)))
    return list(
        db.scalars(query.order_by(Plan.location_id, Plan.kind, Plan.price_cents))
    )


def can_manage_plan(db: Session, actor: User, plan: Plan) -> bool:
    if plan.location_id is None:
        return actor.is_admin
    return can_manage(db, actor, plan.location_id)


def update_plan(db: Session, actor: User, plan_id: int, values: dict[str, Any]) -> Plan:
    """Change a plan's name, price, days, included room hours or whether it is
    on sale. Passes already sold keep what they were sold with.

    Raises NotFound, Forbidden, InvalidInput.
    """
    with unit_of_work(db):
        plan = db.get(Plan, plan_id)
        if plan is None:
            raise NotFound(_l("There is no such plan."))
        if not can_manage_plan(db, actor, plan):
            raise Forbidden()
        if "name" in values:
            name = str(values.get("name") or "").strip()
            if not name or len(name) > 120:
                raise InvalidInput(_l("Give the plan a name."), field="name")
            plan.name = name
        if "price" in values:
            price = parse_cents(values["price"], "price")
            if price != plan.price_cents:
                plan.price_cents = price
                # A Stripe price is immutable: the next change of plan
                # creates one with the new amount.
                plan.stripe_price_id = None
        if "days" in values and plan.kind != PlanKind.DAY_PASS and not plan.fixed_desk:
            days = _optional_int(values.get("days"), "days")
            if plan.kind == PlanKind.PACK and days is None:
                raise InvalidInput(_l("A pack needs a number of days."), field="days")
            plan.days = days
        if "room_hours" in values:
            plan.room_hours = _optional_int(values.get("room_hours"), "room_hours")
        if "is_active" in values:
            plan.is_active = str(values["is_active"]).lower() in ("1", "true", "on")
    return plan


def new_pass(
    plan: Plan,
    *,
    user_id: int | None = None,
    company_id: int | None = None,
    today: date,
    status: PassStatus = PassStatus.PENDING,
    day_part: str | None = None,
) -> Pass:
    """A pass as sold from a plan; the caller adds it to the session.

    A day pass is valid on ``today`` only: the date it was bought for.
    """
    if plan.kind == PlanKind.DAY_PASS:
        valid_until: date | None = today
    elif plan.kind == PlanKind.PACK and plan.valid_days:
        valid_until = today + timedelta(days=plan.valid_days - 1)
    else:
        valid_until = None
    return Pass(
        plan_id=plan.id,
        kind=plan.kind,
        user_id=user_id,
        company_id=company_id,
        status=status,
        location_id=plan.location_id,
        credits=plan.days,
        room_hours=plan.room_hours,
        access_24_7=plan.access_24_7,
        valid_from=today,
        valid_until=valid_until,
        day_part=day_part,
        cancel_at_period_end=False,
    )


# --- day passes -----

# How far ahead a network-wide day pass can be bought (a location's own
# passes follow its booking horizon).
NETWORK_DAY_PASS_HORIZON_DAYS = 90
NETWORK_TIMEZONE = "Europe/Berlin"
DAY_PARTS = (DayPart.AM.value, DayPart.PM.value)


def day_pass_span(
    location: Location, day: date, part: str | None
) -> tuple[datetime, datetime] | None:
    """When a day pass for ``day`` is good at ``location``: its opening
    hours, or the morning or afternoon of them. None if closed then."""
    plan = plan_for(location, day)
    if not plan.is_open:
        return None
    if part == DayPart.AM:
        return plan.am
    if part == DayPart.PM:
        return plan.pm
    return plan.full


def check_day_pass_request(
    db: Session, plan: Plan, day: date, part: str | None, now: datetime
) -> str | None:
    """The day and half a day pass is bought for, checked before payment.

    Returns the part to store ("am", "pm" or None). Raises InvalidInput.
    """
    if plan.half_day:
        if part not in DAY_PARTS:
            raise InvalidInput(_l("Choose the morning or the afternoon."), field="part")
    elif part not in (None, "", DayPart.FULL.value):
        raise InvalidInput(_l("This pass is for the whole day."), field="part")
    else:
        part = None
    if plan.location_id is None:
        today = local_date(now, NETWORK_TIMEZONE)
        if day < today:
            raise InvalidInput(_l("That day is already over."), field="date")
        if day > today + timedelta(days=NETWORK_DAY_PASS_HORIZON_DAYS):
            raise InvalidInput(
                _l(
                    "Day passes can be bought at most %(days)d days ahead.",
                    days=NETWORK_DAY_PASS_HORIZON_DAYS,
                ),
                field="date",
            )
        return part
    location = db.get(Location, plan.location_id)
    span = day_pass_span(location, day, part)
    if span is None or location_closed_on(db, location.id, day):
        raise InvalidInput(_l("The location is closed on that day."), field="date")
    if span[1] <= now:
        raise InvalidInput(_l("That day is already over."), field="date")
    if day > local_date(now, location.timezone) + timedelta(days=location.horizon_days):
        raise InvalidInput(
            _l(
                "Bookings are possible at most %(days)d days ahead.",
                days=location.horizon_days,
            ),
            field="date",
        )
    return part


def day_pass_windows(
    db: Session, user: User, location: Location, now: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(pass id, from, until) of the person's paid day passes that open the
    doors of ``location`` today or tomorrow, not yet over."""
    today = local_date(now, location.timezone)
    passes = db.scalars(
        select(Pass).where(
            Pass.user_id == user.id,
            Pass.kind == PlanKind.DAY_PASS,
            Pass.status == PassStatus.ACTIVE,
            Pass.valid_from.in_((today, today + timedelta(days=1))),
            or_(Pass.location_id.is_(None), Pass.location_id == location.id),
        )
    )
    windows = []
    for pass_ in passes:
        span = day_pass_span(location, pass_.valid_from, pass_.day_part)
        if span is not None and span[1] > now:
            windows.append((pass_.id, span[0], span[1]))
    return windows


def day_passes_of(db: Session, user: User, limit: int = 50) -> list[Pass]:
    """The person's day passes, the latest date first."""
    return list(
        db.scalars(
            select(Pass)
            .where(Pass.user_id == user.id, Pass.kind == PlanKind.DAY_PASS)
            .order_by(Pass.valid_from.desc(), Pass.id.desc())
            .limit(limit)
        )
    )


def day_pass_in_use(db: Session, pass_: Pass) -> bool:
    """A booking holds this day pass's day (a credit consumed, not returned)."""
    return _used(db, pass_, "all") > 0


# --- settling bookings -----


def settle_booking(
    db: Session,
    booking: Booking,
    *,
    resource: BookableResource,
    location: BookableLocation,
    holder: User,
    now: datetime,
) -> int:
    """Inside create_booking's unit: free, or paid from a credit. Returns the
    cents still owed (0 when settled), which billing holds for payment.

    A free resource costs no query. Otherwise the holder's passes are read
    under a row lock and a credit is consumed. Raises MembershipSuspended for
    a member whose grace has run out.
    """
    price = booking_price_cents(resource, booking)
    if price == 0:
        return 0
    passes = _passes_of(db, holder, location.id, lock=True)
    if any(p.standing(now) == Standing.SUSPENDED for p in passes) and not any(
        p.standing(now) == Standing.ACTIVE for p in passes
    ):
        raise MembershipSuspended()
    consume = _consume if resource.is_day_bookable else _consume_room_minutes
    for candidate in passes:
        if consume(db, candidate, booking, now=now):
            booking.settled_by = "credit"
            return 0
    return price


def _holder_filter(user_id: int):
    employer = select(CompanyMember.company_id).where(
        CompanyMember.user_id == user_id, CompanyMember.removed_at.is_(None)
    )
    return or_(Pass.user_id == user_id, Pass.company_id.in_(employer))


def _passes_of(
    db: Session, holder: User, location_id: int | None, *, lock: bool = False
) -> list[Pass]:
    query = select(Pass).where(_holder_filter(holder.id), Pass.status.in_(_USABLE))
    if location_id is not None:
        query = query.where(
            or_(Pass.location_id.is_(None), Pass.location_id == location_id)
        )
    if lock and db.get_bind().dialect.name == "postgresql":
        # Two bookings drawing on one budget (two employees, two tabs) count
        # credits one after the other.
        query = query.with_for_update(of=Pass)
    passes = list(db.scalars(query.order_by(Pass.id)))
    return sorted(passes, key=lambda p: _PREFERENCE[PlanKind(p.kind)])


def _used(db: Session, pass_: Pass, period: str, unit: str = DAY) -> int:
    total = db.scalar(
        select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(
            CreditEntry.pass_id == pass_.id,
            CreditEntry.period == period,
            CreditEntry.unit == unit,
        )
    )
    return -int(total or 0)


def remaining(db: Session, pass_: Pass, day: date) -> int | None:
    """Credits left in the period of ``day``; None for unlimited."""
    if pass_.credits is None:
        return None
    return max(0, pass_.credits - _used(db, pass_, pass_.period_of(day)))


def remaining_room_minutes(db: Session, pass_: Pass, day: date) -> int | None:
    """Included meeting-room minutes left in the month of ``day``; None if the
    plan includes none."""
    if not pass_.room_hours:
        return None
    used = _used(db, pass_, pass_.period_of(day), MINUTE)
    return max(0, pass_.room_hours * 60 - used)


def _is_valid_on(pass_: Pass, day: date) -> bool:
    return pass_.valid_from <= day and (
        pass_.valid_until is None or day <= pass_.valid_until
    )


def _consume_room_minutes(
    db: Session, pass_: Pass, booking: Booking, *, now: datetime
) -> bool:
    """A room booking fully covered by the plan's included hours; otherwise
    it is paid in full (no split between hours and money)."""
    if not pass_.room_hours or pass_.standing(now) not in (
        Standing.ACTIVE,
        Standing.PAST_DUE_IN_GRACE,
    ):
        return False
    if not _is_valid_on(pass_, booking.booked_on):
        return False
    minutes = int((booking.ends_at - booking.starts_at).total_seconds()) // 60
    left = remaining_room_minutes(db, pass_, booking.booked_on) or 0
    if minutes > left:
        return False
    db.add(
        CreditEntry(
            pass_id=pass_.id,
            unit=MINUTE,
            delta=-minutes,
            period=pass_.period_of(booking.booked_on),
            booking_id=booking.id,
            location_id=booking.location_id,
            booked_on=booking.booked_on,
            reason="booking",
            actor_id=booking.created_by_id,
            created_at=now,
        )
    )
    return True


def _consume(db: Session, pass_: Pass, booking: Booking, *, now: datetime) -> bool:
    if pass_.standing(now) not in (Standing.ACTIVE, Standing.PAST_DUE_IN_GRACE):
        return False
    if not _is_valid_on(pass_, booking.booked_on):
        return False
    if pass_.day_part and booking.part != pass_.day_part:
        # A half-day pass pays for that half only.
        return False
    period = pass_.period_of(booking.booked_on)
    if pass_.credits is not None and _used(db, pass_, period) >= pass_.credits:
        return False
    db.add(
        CreditEntry(
            pass_id=pass_.id,
            delta=-1,
            period=period,
            booking_id=booking.id,
            location_id=booking.location_id,
            booked_on=booking.booked_on,
            reason="booking",
            actor_id=booking.created_by_id,
            created_at=now,
        )
    )
    return True


def release_booking(
    db: Session, booking: Booking, *, actor: User, now: datetime
) -> None:
    """Inside a cancellation's unit: give back the credit a booking took.
    Bookings paid with money are billing's (billing.settlement)."""
    consumed = list(
        db.scalars(select(CreditEntry).where(CreditEntry.booking_id == booking.id))
    )
    balance = sum(entry.delta for entry in consumed)
    if consumed and balance < 0:
        first = consumed[0]
        db.add(
            CreditEntry(
                pass_id=first.pass_id,
                unit=first.unit,
                delta=-balance,
                period=first.period,
                booking_id=booking.id,
                location_id=booking.location_id,
                booked_on=booking.booked_on,
                reason="cancelled",
                actor_id=actor.id,
                created_at=now,
            )
        )


# --- standing and door access -----


@dataclass(frozen=True)
class CreditSummary:
    pass_id: int
    name: str
    kind: str
    remaining: int | None  # None: unlimited
    standing: Standing
    room_minutes: int | None = None  # included room time left; None: none
    valid_until: date | None = None  # packs
    company: str | None = None  # drawn from an employer's budget
    cancel_at_period_end: bool = False
    grace_until: datetime | None = None
    # Fixed-desk memberships: the desk's name, "" while none is assigned.
    fixed_desk: str | None = None


def _fixed_desk_name(db: Session, pass_: Pass) -> str | None:
    if not pass_.plan.fixed_desk:
        return None
    desk = fixed_desks.fixed_desk_of(db, pass_)
    return desk.name if desk is not None else ""


def credit_summary(
    db: Session, user: User, location_id: int | None, day: date, now: datetime
) -> list[CreditSummary]:
    """What the booking page shows: days left this month (or in the pack).

    Packs and day passes that are not valid on ``day`` (run out, not started,
    bought for another date) are left out: they cannot pay for it.
    """
    return [
        CreditSummary(
            p.id,
            p.plan.name,
            p.kind,
            remaining(db, p, day),
            p.standing(now),
            room_minutes=remaining_room_minutes(db, p, day),
            valid_until=p.valid_until,
            company=p.company.name if p.company_id else None,
            cancel_at_period_end=p.cancel_at_period_end,
            grace_until=p.grace_until,
            fixed_desk=_fixed_desk_name(db, p),
        )
        for p in _passes_of(db, user, location_id)
        if p.kind not in _DATED or _is_valid_on(p, day)
    ]


def member_standing(db: Session, user: User, now: datetime | None = None) -> Standing:
    """The best standing among the person's memberships and employer budgets.

    ACTIVE, PAST_DUE_IN_GRACE (a renewal failed, the grace period runs: access
    continues), SUSPENDED (grace over: no new bookings, no door) or NONE.
    """
    now = now or utcnow()
    standings = {
        p.standing(now)
        for p in _passes_of(db, user, None)
        if p.kind in (PlanKind.MEMBERSHIP, PlanKind.COMPANY)
    }
    for standing in (
        Standing.ACTIVE,
        Standing.PAST_DUE_IN_GRACE,
        Standing.SUSPENDED,
    ):
        if standing in standings:
            return standing
    return Standing.NONE


def has_24_7_access(
    db: Session, user: User, location_id: int, now: datetime | None = None
) -> bool:
    """Door access outside opening hours: an active (or in-grace) 24/7 plan
    valid at this location. A suspended member never."""
    now = now or utcnow()
    return any(
        p.access_24_7
        and p.kind in (PlanKind.MEMBERSHIP, PlanKind.COMPANY)
        and p.standing(now) in (Standing.ACTIVE, Standing.PAST_DUE_IN_GRACE)
        for p in _passes_of(db, user, location_id)
    )


# --- subscriptions (state from Stripe objects) ------------------------------------


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
        fixed_desks.free_desk_of(db, pass_)
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
        fixed_desks.free_desk_of(db, pass_)
    pass_.plan_id = plan.id
    pass_.credits = plan.days
    pass_.room_hours = plan.room_hours
    pass_.access_24_7 = plan.access_24_7
    pass_.location_id = plan.location_id


# --- companies -----


def create_company(
    db: Session,
    actor: User,
    *,
    name: str,
    admin: User,
    billing_email: str = "",
    location_id: int | None = None,
) -> Company:
    """Open a company account looked after by one location's operators (or,
    without a location, by the network administrators).

    Raises Forbidden, InvalidInput.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(_l("Give the company a name."), field="name")
    with unit_of_work(db):
        if location_id is None:
            if not actor.is_admin:
                raise Forbidden(_l("Choose the location that looks after it."))
        else:
            get_managed_location(db, actor, location_id)
        company = Company(
            name=name,
            admin_user_id=admin.id,
            billing_email=(billing_email or "").strip()[:254],
            location_id=location_id,
        )
        db.add(company)
        db.flush()
    return company


def can_manage_company(db: Session, actor: User, company: Company) -> bool:
    """Operators of the company's location, and network administrators."""
    if actor.is_admin:
        return True
    return company.location_id is not None and can_manage(
        db, actor, company.location_id
    )


def can_see_company(db: Session, actor: User, company: Company) -> bool:
    return actor.id == company.admin_user_id or can_manage_company(db, actor, company)


def get_company_for(db: Session, actor: User, company_id: int) -> Company:
    """The company if the actor administers or looks after it; else 404."""
    company = db.get(Company, company_id)
    if company is None or not can_see_company(db, actor, company):
        raise NotFound(_l("There is no such company account."))
    return company


def _check_company_admin(db: Session, actor: User, company: Company) -> None:
    if not can_see_company(db, actor, company):
        raise Forbidden(_l("Only the company's administrator can do that."))


def companies_for(db: Session, actor: User) -> list[Company]:
    """Company accounts the actor looks after (operators) or administers."""
    query = select(Company).order_by(Company.name)
    ids = managed_location_ids(db, actor)
    if ids is not None:
        query = query.where(
            or_(Company.location_id.in_(ids), Company.admin_user_id == actor.id)
        )
    return list(db.scalars(query))


def add_employee(
    db: Session, actor: User, company_id: int, employee: User, *, now=None
) -> CompanyMember:
    """Let a person draw on the company's budget. Raises Forbidden,
    InvalidInput (already with an employer)."""
    now = now or utcnow()
    with unit_of_work(db):
        company = db.get(Company, company_id)
        if company is None:
            raise NotFound()
        _check_company_admin(db, actor, company)
        current = db.scalar(
            select(CompanyMember).where(
                CompanyMember.user_id == employee.id,
                CompanyMember.removed_at.is_(None),
            )
        )
        if current is not None:
            if current.company_id == company.id:
                return current
            raise InvalidInput(
                _l("This person already belongs to another company account."),
                field="email",
            )
        member = CompanyMember(company_id=company.id, user_id=employee.id, added_at=now)
        db.add(member)
        db.flush()
    return member


def remove_employee(
    db: Session, actor: User, company_id: int, user_id: int, *, now=None
) -> None:
    now = now or utcnow()
    with unit_of_work(db):
        company = db.get(Company, company_id)
        if company is None:
            raise NotFound()
        _check_company_admin(db, actor, company)
        member = db.scalar(
            select(CompanyMember).where(
                CompanyMember.company_id == company_id,
                CompanyMember.user_id == user_id,
                CompanyMember.removed_at.is_(None),
            )
        )
        if member is None:
            raise NotFound()
        member.removed_at = now


def company_usage(db: Session, company_id: int, period: str) -> list[tuple[User, int]]:
    """Days each employee drew on the company's budgets in a period."""
    rows = db.execute(
        select(User, func.sum(-CreditEntry.delta))
        .join(Booking, Booking.id == CreditEntry.booking_id)
        .join(User, User.id == Booking.user_id)
        .join(Pass, Pass.id == CreditEntry.pass_id)
        .where(
            Pass.company_id == company_id,
            CreditEntry.period == period,
            CreditEntry.unit == DAY,
        )
        .group_by(User.id)
        .order_by(User.email)
    ).all()
    return [(user, int(days or 0)) for user, days in rows]


# --- operator tools -----


def grant_credits(
    db: Session, actor: User, pass_id: int, *, days: int, reason: str, on: date
) -> CreditEntry:
    """A manual grant (or, with negative days, a correction) with a reason.

    Raises Forbidden, NotFound, InvalidInput.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            _l("Say why: the reason is kept in the ledger."), field="reason"
        )
    if days == 0 or abs(days) > 1000:
        raise InvalidInput(_l("Enter a number of days."), field="days")
    with unit_of_work(db):
        pass_ = db.get(Pass, pass_id)
        if pass_ is None:
            raise NotFound()
        if not can_manage_pass(db, actor, pass_):
            raise Forbidden()
        entry = CreditEntry(
            pass_id=pass_.id,
            delta=days,
            period=pass_.period_of(on),
            reason=reason[:200],
            actor_id=actor.id,
        )
        db.add(entry)
    return entry


def can_manage_pass(db: Session, actor: User, pass_: Pass) -> bool:
    """Operators of the pass's location; a company's pass also the operators
    looking after the company; network-wide passes only administrators."""
    if actor.is_admin:
        return True
    if not actor.is_operator:
        return False
    if pass_.location_id is not None and can_manage(db, actor, pass_.location_id):
        return True
    return pass_.company is not None and can_manage_company(db, actor, pass_.company)


def get_pass_for(db: Session, actor: User, pass_id: int) -> Pass:
    """A pass the operator may see and change; 404 if missing, 403 if not
    theirs."""
    pass_ = db.get(Pass, pass_id)
    if pass_ is None:
        raise NotFound(_l("There is no such pass."))
    if not can_manage_pass(db, actor, pass_):
        raise Forbidden()
    return pass_


def ledger(db: Session, pass_id: int, limit: int = 200) -> list[CreditEntry]:
    return list(
        db.scalars(
            select(CreditEntry)
            .where(CreditEntry.pass_id == pass_id)
            .order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc())
            .limit(limit)
        )
    )


def list_passes(db: Session, actor: User, limit: int = 500) -> list[Pass]:
    """Passes the actor may manage: of their locations and the companies
    they look after (administrators: all)."""
    query = select(Pass).order_by(Pass.id.desc()).limit(limit)
    ids = managed_location_ids(db, actor)
    if ids is not None:
        companies = select(Company.id).where(Company.location_id.in_(ids))
        query = query.where(
            or_(Pass.location_id.in_(ids), Pass.company_id.in_(companies))
        )
    return list(db.scalars(query))


def network_settlement(
    db: Session, starts_on: date, ends_on: date
) -> list[tuple[Location, int]]:
    """Days used under network-wide plans per location, for sharing revenue."""
    rows = db.execute(
        select(Location, func.sum(-CreditEntry.delta))
        .join(CreditEntry, CreditEntry.location_id == Location.id)
        .join(Pass, Pass.id == CreditEntry.pass_id)
        .where(
            Pass.location_id.is_(None),
            CreditEntry.unit == DAY,
            CreditEntry.booking_id.is_not(None),
            CreditEntry.booked_on >= starts_on,
            CreditEntry.booked_on <= ends_on,
        )
        .group_by(Location.id)
        .order_by(Location.name)
    ).all()
    return [(location, int(days or 0)) for location, days in rows]


def employees(db: Session, company_id: int) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(CompanyMember, CompanyMember.user_id == User.id)
            .where(
                CompanyMember.company_id == company_id,
                CompanyMember.removed_at.is_(None),
            )
            .order_by(User.email)
        )
    )


def company_passes(
    db: Session, company_id: int, day: date
) -> list[tuple[Pass, int | None]]:
    """A company's budgets (any status) with the days left in ``day``'s month."""
    passes = db.scalars(
        select(Pass).where(Pass.company_id == company_id).order_by(Pass.id.desc())
    )
    return [(p, remaining(db, p, day)) for p in passes]
