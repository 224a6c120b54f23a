"""Company invitations: the employer's administrator invites by e-mail, the
person accepts from the link and draws on the company's budget."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from booking.db import utcnow
from booking.errors import NotFound
from booking.passes import invitations
from booking.passes import services as passes
from booking.passes.models import CompanyInvitation, CompanyMember
from booking.privacy.services import delete_account, export_user_data
from tests.support.billing_helpers import fresh

LINK_RE = re.compile(r"https?://\S+/invitations/([\w-]+)")


@pytest.fixture
def location(create_location):
    return create_location()


@pytest.fixture
def boss(create_user):
    return create_user("chefin@firma.example", name="Chefin")


@pytest.fixture
def company(db, location, boss):
    return passes.create_company(
        db,
        location.operators[0],
        name="Firma Mulde",
        admin=boss,
        location_id=location.id,
    )


def _invite_by_page(client, auth, boss, company, email):
    auth.login(boss.email)
    page = f"/companies/{company.id}"
    return client.post(
        page, data={"invite_email": email, "csrf_token": auth.csrf(page)}
    )


def test_invite_mail_link_accept_makes_an_employee(
    db, client, auth, boss, company, create_user, smtp
):
    jan = create_user("jan@example.org")
    response = _invite_by_page(client, auth, boss, company, " Jan@Example.org ")
    assert response.status_code == 303
    mail = smtp.wait_for_message()
    assert mail["To"] == "jan@example.org"
    assert "Firma Mulde" in mail["Subject"]
    token = LINK_RE.search(mail.get_content()).group(1)
    # Only the hash is stored; the token is only in the mail.
    stored = db.scalar(select(CompanyInvitation))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    dump = db.execute(text("SELECT * FROM company_invitations")).all()
    assert token not in repr(dump)
    # The pending invitation is listed with a withdraw button.
    page = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "jan@example.org" in page and "withdraw_invitation_id" in page

    auth.logout()
    # Not logged in: sent to log in first, nothing accepted.
    response = client.get(f"/invitations/{token}")
    assert response.status_code == 303 and "/login" in response.location
    auth.login(jan.email)
    shown = client.get(f"/invitations/{token}")
    assert shown.status_code == 200 and "Firma Mulde" in shown.get_data(as_text=True)
    # Without CSRF nothing happens.
    assert client.post(f"/invitations/{token}").status_code == 400
    accepted = client.post(
        f"/invitations/{token}", data={"csrf_token": auth.csrf(f"/invitations/{token}")}
    )
    assert accepted.status_code == 303
    fresh(db)
    assert [u.email for u in passes.employees(db, company.id)] == ["jan@example.org"]
    assert db.get(CompanyInvitation, stored.id).accepted_by_id == jan.id
    # A used link is gone: 410, and nothing changes.
    again = client.get(f"/invitations/{token}")
    assert again.status_code == 410
    assert "no longer valid" in again.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(CompanyMember)) == 1


def test_withdrawn_and_expired_links_answer_410(
    db, client, auth, boss, company, create_user
):
    eva = create_user("eva@example.org")
    withdrawn, token = invitations.invite_employee(db, boss, company.id, eva.email)
    invitations.withdraw_invitation(db, boss, withdrawn.id)
    auth.login(eva.email)
    assert client.get(f"/invitations/{token}").status_code == 410
    _, old = invitations.invite_employee(
        db, boss, company.id, eva.email, now=utcnow() - timedelta(days=15)
    )
    assert client.get(f"/invitations/{old}").status_code == 410
    with pytest.raises(invitations.InvitationGone):
        invitations.accept_invitation(db, eva, old)
    assert client.get("/invitations/not-a-real-token").status_code == 404
    fresh(db)
    assert passes.employees(db, company.id) == []


def test_inviting_again_replaces_the_pending_invitation(db, boss, company):
    first, first_token = invitations.invite_employee(
        db, boss, company.id, "x@example.org"
    )
    second, _ = invitations.invite_employee(db, boss, company.id, "x@example.org")
    fresh(db)
    assert [i.id for i in invitations.pending_invitations(db, company.id)] == [
        second.id
    ]
    with pytest.raises(invitations.InvitationGone):
        invitations.invitation_for_token(db, first_token)


def test_another_companys_admin_cannot_see_or_withdraw(
    db, client, auth, location, boss, company, create_user
):
    rival = create_user("rival@example.org")
    passes.create_company(
        db,
        location.operators[0],
        name="Andere GmbH",
        admin=rival,
        location_id=location.id,
    )
    invitation, token = invitations.invite_employee(
        db, boss, company.id, "x@example.org"
    )
    with pytest.raises(NotFound):
        invitations.withdraw_invitation(db, rival, invitation.id)
    auth.login(rival.email)
    assert client.get(f"/companies/{company.id}").status_code == 404
    response = client.post(
        f"/companies/{company.id}",
        data={"withdraw_invitation_id": invitation.id, "csrf_token": auth.csrf()},
    )
    assert response.status_code == 404
    with pytest.raises(Exception):  # noqa: B017 (Forbidden or NotFound)
        invitations.invite_employee(db, rival, company.id, "y@example.org")
    fresh(db)
    assert invitations.invitation_for_token(db, token).withdrawn_at is None


def test_bad_address_is_refused_with_nothing_stored(db, client, auth, boss, company):
    response = _invite_by_page(client, auth, boss, company, "not-an-address")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "valid e-mail address" in page
    assert db.scalar(select(func.count()).select_from(CompanyInvitation)) == 0


def test_export_and_deletion_cover_invitations(db, boss, company, create_user):
    lena = create_user("lena@example.org")
    invitations.invite_employee(db, boss, company.id, lena.email)
    exported = export_user_data(db, lena)
    [entry] = exported["passes"]["company_invitations"]
    assert entry["company"] == "Firma Mulde" and entry["email"] == lena.email
    delete_account(db, lena, "password123")
    fresh(db)
    assert db.scalar(select(func.count()).select_from(CompanyInvitation)) == 0
