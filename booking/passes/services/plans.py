"""Plans for sale and the passes bought from them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work
from ...errors import Forbidden, InvalidInput, NotFound
from ...spaces.services import can_manage, get_managed_location, managed_location_ids
from ...validation import parse_id, parse_int
from ..models import (
    DATED_KINDS,
    Pass,
    PassStatus,
    Plan,
    PlanKind,
)
from .prices import parse_cents


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
                if kind not in DATED_KINDS
                else None
            ),
            access_24_7=bool(values.get("access_24_7")) and kind not in DATED_KINDS,
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
