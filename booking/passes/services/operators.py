"""What operators do with passes: grant credits, list, look up.

The network settlement lives in billing/network_settlement.py."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work
from ...errors import Forbidden, InvalidInput, NotFound
from ...spaces.services import can_manage, managed_location_ids
from ..models import (
    Company,
    CreditEntry,
    Pass,
)
from .companies import can_manage_company


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

