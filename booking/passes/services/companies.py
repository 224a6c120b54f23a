"""Companies: an admin, employees, and the budgets they book on."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking
from ...db import unit_of_work, utcnow
from ...errors import Forbidden, InvalidInput, NotFound
from ...spaces.services import can_manage, get_managed_location, managed_location_ids
from ..models import (
    Company,
    CompanyMember,
    CreditEntry,
    Pass,
)
from .credits import DAY, remaining


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
