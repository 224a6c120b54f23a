"""Companies: an admin, employees, and the budgets they book on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ...auth.models import Role, User
from ...auth.services import create_invited_user, find_user, normalise_email
from ...bookings.models import Booking
from ...db import unit_of_work, utcnow
from ...errors import Forbidden, InvalidInput, NotFound
from ...spaces.services import can_manage, get_managed_location, managed_location_ids
from ..models import (
    Company,
    CompanyMember,
    CreditEntry,
    Pass,
    PassStatus,
    Plan,
    PlanKind,
)
from .credits import DAY, remaining
from .plans import new_pass


def create_company(
    db: Session,
    actor: User,
    *,
    name: str,
    admin: User | None = None,
    admin_email: str = "",
    admin_name: str = "",
    setup_url: Callable[[str], str] | None = None,
    network_name: str = "Landdesk",
    billing_email: str = "",
    location_id: int | None = None,
) -> Company:
    """Open a company account looked after by one location's operators (or,
    without a location, by the network administrators).

    The company's administrator is ``admin`` or the account of
    ``admin_email``; without an account one is made and mailed a link to set
    its password (``setup_url(token)``), so nobody needs to register first.
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
        if admin is None:
            admin = _company_admin(
                db, actor, name, admin_email, admin_name, setup_url, network_name
            )
        company = Company(
            name=name,
            admin_user_id=admin.id,
            billing_email=(billing_email or "").strip()[:254] or admin.email,
            location_id=location_id,
        )
        db.add(company)
        db.flush()
    return company


def _company_admin(
    db: Session,
    actor: User,
    company_name: str,
    email: str,
    name: str,
    setup_url: Callable[[str], str] | None,
    network_name: str,
) -> User:
    try:
        email = normalise_email(email)
    except InvalidInput as error:
        raise InvalidInput(error.message, field="admin_email") from None
    existing = find_user(db, email)
    if existing is not None:
        return existing
    if setup_url is None:
        raise InvalidInput(
            _l("There is no account with this e-mail address."), field="admin_email"
        )
    reason = str(  # in the operator's language, as the whole mail
        _l(
            "You administer the company account of %(company)s: you invite "
            "your colleagues, who then book on its budget.",
            company=company_name,
        )
    )
    return create_invited_user(
        db,
        email=email,
        name=name,
        role=Role.MEMBER,
        invited_by=actor,
        setup_url=setup_url,
        network_name=network_name,
        reason=reason,
    )


def set_company_budget(
    db: Session,
    actor: User,
    company_id: int,
    *,
    plan_id: int,
    days: int | None,
    today: date,
) -> Pass:
    """The company's plan and monthly desk-days, set by its operators: the
    budget is active at once and billed monthly on invoice (not by card).

    A budget that is already running is changed in place, so days used this
    month still count. Raises NotFound, Forbidden, InvalidInput.
    """
    if days is not None and not 1 <= days <= 1000:
        raise InvalidInput(
            _l("The monthly budget is 1 to 1000 desk-days."), field="days"
        )
    with unit_of_work(db):
        company = db.get(Company, company_id)
        if company is None:
            raise NotFound(_l("There is no such company account."))
        if not can_manage_company(db, actor, company):
            raise Forbidden(_l("Only the company's operators set its budget."))
        plan = db.get(Plan, plan_id)
        if (
            plan is None
            or plan.kind != PlanKind.COMPANY
            or not plan.is_active
            or (
                plan.location_id is not None
                and not can_manage(db, actor, plan.location_id)
            )
        ):
            raise InvalidInput(_l("Choose one of the company plans."), field="plan_id")
        live = list(
            db.scalars(
                select(Pass).where(
                    Pass.company_id == company.id,
                    Pass.status.in_((PassStatus.ACTIVE, PassStatus.PAST_DUE)),
                )
            )
        )
        if any(p.stripe_subscription_id for p in live):
            raise InvalidInput(
                _l(
                    "This company pays its budget by card subscription; its "
                    "administrator changes it there."
                ),
                field="plan_id",
            )
        budget = live[0] if live else None
        if budget is None:
            budget = new_pass(
                plan, company_id=company.id, today=today, status=PassStatus.ACTIVE
            )
            db.add(budget)
        budget.plan_id = plan.id
        budget.kind = plan.kind
        budget.location_id = plan.location_id
        budget.credits = days if days is not None else plan.days
        budget.room_hours = plan.room_hours
        budget.access_24_7 = plan.access_24_7
        budget.updated_at = utcnow()
        db.flush()
    return budget


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
