"""Passes, credits and company budgets in a member's data export; on account
deletion the member stops drawing on an employer's budget (see
docs/reports.md). The ledger rows stay: they back the orders and the
network settlement."""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..bookings.models import Booking
from ..db import utcnow
from ..privacy import services as privacy
from .models import (
    Company,
    CompanyInvitation,
    CompanyMember,
    CreditEntry,
    Pass,
    Plan,
)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_passes(db: Session, user: User) -> dict:
    """The member's own passes with their ledgers, the days they drew on an
    employer's budget, and their company memberships."""
    own = list(
        db.execute(
            select(Pass, Plan)
            .join(Plan, Plan.id == Pass.plan_id)
            .where(Pass.user_id == user.id)
            .order_by(Pass.id)
        )
    )
    own_ids = [p.id for p, _ in own]
    entries = list(
        db.scalars(
            select(CreditEntry)
            .where(
                or_(
                    CreditEntry.pass_id.in_(own_ids),
                    CreditEntry.booking_id.in_(
                        select(Booking.id).where(Booking.user_id == user.id)
                    ),
                )
            )
            .order_by(CreditEntry.id)
        )
    )
    return {
        "passes": [
            {
                "id": p.id,
                "plan": plan.name,
                "kind": p.kind,
                "status": p.status,
                "location_id": p.location_id,
                "credits": p.credits,
                "room_hours": p.room_hours,
                "access_24_7": p.access_24_7,
                "valid_from": _iso(p.valid_from),
                "valid_until": _iso(p.valid_until),
                "day_part": p.day_part,
                "current_period_end": _iso(p.current_period_end),
                "cancel_at_period_end": p.cancel_at_period_end,
                "created_at": _iso(p.created_at),
            }
            for p, plan in own
        ],
        "credit_entries": [
            {
                "pass_id": e.pass_id,
                "own_pass": e.pass_id in own_ids,
                "unit": e.unit,
                "delta": e.delta,
                "period": e.period,
                "booking_id": e.booking_id,
                "location_id": e.location_id,
                "booked_on": _iso(e.booked_on),
                "reason": e.reason,
                "created_at": _iso(e.created_at),
            }
            for e in entries
        ],
        "company_memberships": [
            {
                "company": company.name,
                "added_at": _iso(member.added_at),
                "removed_at": _iso(member.removed_at),
            }
            for member, company in db.execute(
                select(CompanyMember, Company)
                .join(Company, Company.id == CompanyMember.company_id)
                .where(CompanyMember.user_id == user.id)
                .order_by(CompanyMember.id)
            )
        ],
        "company_invitations": [
            {
                "company": company.name,
                "email": invitation.email,
                "created_at": _iso(invitation.created_at),
                "expires_at": _iso(invitation.expires_at),
                "accepted_at": _iso(invitation.accepted_at),
                "withdrawn_at": _iso(invitation.withdrawn_at),
            }
            for invitation, company in db.execute(
                select(CompanyInvitation, Company)
                .join(Company, Company.id == CompanyInvitation.company_id)
                .where(
                    or_(
                        CompanyInvitation.email == user.email,
                        CompanyInvitation.accepted_by_id == user.id,
                    )
                )
                .order_by(CompanyInvitation.id)
            )
        ],
    }


def erase_passes(db: Session, user: User) -> None:
    """Account deletion: the member leaves any employer's budget; invitations
    to their address go, those they sent or accepted forget them."""
    db.execute(
        delete(CompanyInvitation)
        .where(CompanyInvitation.email == user.email)
        .execution_options(synchronize_session=False)
    )
    for column in ("invited_by_id", "accepted_by_id"):
        db.execute(
            update(CompanyInvitation)
            .where(getattr(CompanyInvitation, column) == user.id)
            .values({column: None})
            .execution_options(synchronize_session=False)
        )
    db.execute(
        update(CompanyMember)
        .where(CompanyMember.user_id == user.id, CompanyMember.removed_at.is_(None))
        .values(removed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def register_privacy() -> None:
    privacy.EXPORTERS["passes"] = export_passes
    privacy.add_hook(privacy.ERASERS, erase_passes)
