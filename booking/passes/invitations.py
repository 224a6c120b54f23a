"""Company invitations: an employer's administrator invites employees by
e-mail; the invited person accepts from the link and draws on the budget.

The token is only in the mail; the database keeps its SHA-256, so a copy of
the database cannot be used to join a company. An invitation is pending for
14 days, until accepted or withdrawn; after that its link answers 410.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..auth.services import normalise_email
from ..db import unit_of_work, utcnow
from ..errors import DomainError, NotFound
from ..i18n import locale_for
from ..outbox import queue_mail
from .models import Company, CompanyInvitation
from .services.companies import _check_company_admin, add_employee, can_see_company

INVITATION_LIFETIME = timedelta(days=14)


class InvitationGone(DomainError):
    status = 410
    code = "invitation_gone"
    default_message = _l(
        "This invitation is no longer valid: it was used, withdrawn or has "
        "expired. Ask the company for a new one."
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_employee(
    db: Session, actor: User, company_id: int, email: str, *, now=None
) -> tuple[CompanyInvitation, str]:
    """Invite ``email`` to the company's budget and mail the link.

    A pending invitation to the same address is withdrawn (its link dies),
    so inviting again resends. Returns the invitation and its token. Raises
    NotFound, Forbidden, InvalidInput.
    """
    now = now or utcnow()
    email = normalise_email(email)
    token = secrets.token_urlsafe(32)
    with unit_of_work(db):
        company = db.get(Company, company_id)
        if company is None:
            raise NotFound(_l("There is no such company account."))
        _check_company_admin(db, actor, company)
        for earlier in _pending(db, company_id, now, email=email):
            earlier.withdrawn_at = now
        invitation = CompanyInvitation(
            company_id=company.id,
            email=email,
            token_hash=_hash(token),
            invited_by_id=actor.id,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        db.add(invitation)
        db.flush()
        mail = _invitation_mail(db, company, actor, email, token, invitation.expires_at)
        # Durable and retried, sent after the commit (booking.outbox).
        queue_mail(db, f"company_invitation:{invitation.id}", email, *mail)
    return invitation, token


def _invitation_mail(
    db: Session,
    company: Company,
    actor: User,
    email: str,
    token: str,
    expires_at: datetime,
) -> tuple[str, str]:
    """Subject and text, in the invitee's language if they have an account."""
    invitee = db.scalar(select(User).where(User.email == email))
    locale = locale_for(invitee or actor)
    with force_locale(locale):
        subject = gettext(
            "%(company)s invites you to book desks on its account",
            company=company.name,
        )
        text = render_template(
            "emails/company_invitation.txt",
            company=company,
            inviter=actor,
            # As in every mail: the configured address, not the request's.
            url=f"{current_app.config['PUBLIC_URL'].rstrip('/')}/invitations/{token}",
            expires_at=expires_at,
        )
    return subject, text


def _pending(db: Session, company_id: int, now: datetime, *, email=None):
    query = select(CompanyInvitation).where(
        CompanyInvitation.company_id == company_id,
        CompanyInvitation.accepted_at.is_(None),
        CompanyInvitation.withdrawn_at.is_(None),
        CompanyInvitation.expires_at > now,
    )
    if email is not None:
        query = query.where(CompanyInvitation.email == email)
    return list(db.scalars(query.order_by(CompanyInvitation.created_at)))


def pending_invitations(
    db: Session, company_id: int, now: datetime | None = None
) -> list[CompanyInvitation]:
    return _pending(db, company_id, now or utcnow())


def withdraw_invitation(
    db: Session, actor: User, invitation_id: int, *, now=None
) -> CompanyInvitation:
    """Withdraw a pending invitation: its link answers 410 from now on.
    Raises NotFound (also for another company's invitation), Forbidden."""
    now = now or utcnow()
    with unit_of_work(db):
        invitation = db.get(CompanyInvitation, invitation_id)
        if invitation is None:
            raise NotFound(_l("There is no such invitation."))
        if not can_see_company(db, actor, invitation.company):
            raise NotFound(_l("There is no such invitation."))
        if invitation.is_pending(now):
            invitation.withdrawn_at = now
    return invitation


def invitation_for_token(db: Session, token: str, *, now=None, lock=False):
    """The invitation of a link. Raises NotFound (unknown), InvitationGone
    (used, withdrawn, expired)."""
    now = now or utcnow()
    if not token or len(token) > 100:
        raise NotFound(_l("There is no such invitation."))
    query = select(CompanyInvitation).where(
        CompanyInvitation.token_hash == _hash(token)
    )
    if lock and db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    invitation = db.scalar(query)
    if invitation is None:
        raise NotFound(_l("There is no such invitation."))
    if not invitation.is_pending(now):
        raise InvitationGone()
    return invitation


def accept_invitation(db: Session, user: User, token: str, *, now=None) -> Company:
    """The logged-in person joins the company's budget; the link is used up.

    Any account may accept (people use another address than the one the
    mail went to). Raises NotFound, InvitationGone, InvalidInput (already
    with another company).
    """
    now = now or utcnow()
    with unit_of_work(db):
        # Locked: two clicks accept once.
        invitation = invitation_for_token(db, token, now=now, lock=True)
        company = invitation.company
        add_employee(db, company.admin, company.id, user, now=now)
        invitation.accepted_at = now
        invitation.accepted_by_id = user.id
    return company
