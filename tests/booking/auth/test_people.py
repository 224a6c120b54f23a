"""People and roles without the command line (issue 18 point 5): admins find
accounts, make operators of chosen locations or admins, switch accounts off
and invite operators who have no account yet."""

from __future__ import annotations

import re

import pytest

from booking.auth.models import Role, User
from booking.spaces.services import can_manage
from tests.conftest import csrf_token


@pytest.fixture
def admin(create_user):
    return create_user("ada@example.org", role="admin", name="Ada")


def test_api_finds_and_changes_people_for_admins_only(
    api, admin, create_user, create_location, db
):
    mia = create_user("mia@example.org", name="Mia")
    op = create_user("otto@example.org", role="operator")
    north, south = create_location(), create_location()
    answer = api(admin).get("/api/v1/users?email=MIA@")
    assert answer.status_code == 200
    assert [u["email"] for u in answer.get_json()] == ["mia@example.org"]

    changed = api(admin).patch(
        f"/api/v1/users/{mia.id}",
        json={"role": "operator", "location_ids": [north.id]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() == {
        "id": mia.id,
        "email": "mia@example.org",
        "name": "Mia",
        "role": "operator",
        "is_active": True,
        "location_ids": [north.id],
    }
    db.expire_all()
    mia = db.get(User, mia.id)
    assert can_manage(db, mia, north.id) and not can_manage(db, mia, south.id)

    # Operators and members are refused, for reading and for changing.
    for user in (op, create_user()):
        assert api(user).get("/api/v1/users?email=a").status_code == 403
        refused = api(user).patch(f"/api/v1/users/{mia.id}", json={"role": "admin"})
        assert refused.status_code == 403
    assert (
        api(admin).patch(f"/api/v1/users/{mia.id}", json={"role": "boss"}).status_code
        == 400
    )
    assert (
        api(admin).patch(f"/api/v1/users/{mia.id}", json={"salary": 1}).status_code
        == 400
    )
    assert api(admin).patch("/api/v1/users/999999", json={}).status_code == 404

    # Back to member: she runs no location any more.
    back = api(admin).patch(f"/api/v1/users/{mia.id}", json={"role": "member"})
    assert back.get_json()["location_ids"] == []
    db.expire_all()
    assert not can_manage(db, db.get(User, mia.id), north.id)


def test_switching_off_ends_logins_and_admins_cannot_demote_themselves(
    api, admin, create_user, db
):
    mia = create_user("mia@example.org")
    her_api = api(mia)
    assert her_api.get("/api/v1/account").status_code in (200, 404)
    off = api(admin).patch(f"/api/v1/users/{mia.id}", json={"is_active": False})
    assert off.status_code == 200 and off.get_json()["is_active"] is False
    assert her_api.get("/api/v1/bookings").status_code == 401

    me = api(admin)
    for change in ({"role": "operator"}, {"role": "member"}, {"is_active": False}):
        refused = me.patch(f"/api/v1/users/{admin.id}", json=change)
        assert refused.status_code == 400
        assert "own admin role" in refused.get_json()["message"]
    db.expire_all()
    assert db.get(User, admin.id).role == Role.ADMIN


def test_admin_invites_an_operator_without_account(
    client, auth, admin, create_location, smtp, db
):
    north = create_location(name="Dorfbüro Nord")
    auth.login("ada@example.org")
    page = client.get("/admin/people?email=neu@")
    assert page.status_code == 200
    assert "Nobody with this address" in page.get_data(as_text=True)
    assert "<h2>Found</h2>" not in page.get_data(as_text=True)
    empty = client.get("/admin/people?email=").get_data(as_text=True)
    assert "Enter an e-mail address, or a part of one." in empty
    response = client.post(
        "/admin/people/invite",
        data={
            "email": "Neu@Example.org",
            "name": "Nele",
            "role": "operator",
            "location_ids": [str(north.id)],
            "csrf_token": csrf_token(client, "/admin/people"),
        },
    )
    assert response.status_code == 303
    mail = smtp.wait_for_message()
    assert mail["To"] == "neu@example.org"
    text = mail.get_content()
    assert "Dorfbüro Nord" in text
    link = re.search(r"http://localhost/welcome/\S+", text).group(0)
    nele = db.query(User).filter_by(email="neu@example.org").one()
    assert nele.role == Role.OPERATOR and can_manage(db, nele, north.id)
    # No password works before she chose one.
    stranger = client.application.test_client()
    path = link.split("localhost", 1)[1]
    token = csrf_token(stranger, path)
    done = stranger.post(
        path,
        data={
            "password": "village-op-1",
            "confirm": "village-op-1",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    assert stranger.get("/manage/").status_code == 200  # logged in as operator
    # The link works once.
    again = stranger.post(
        path,
        data={
            "password": "other-pass-2",
            "confirm": "other-pass-2",
            "csrf_token": token,
        },
    )
    assert again.status_code == 400


def test_people_pages_are_for_admins(client, auth, create_user):
    create_user("otto@example.org", role="operator")
    auth.login("otto@example.org")
    assert client.get("/admin/people").status_code == 403


def test_an_operator_of_no_location_is_pointed_out(
    client, auth, admin, create_user, create_location
):
    lone = create_user("lone@example.org", role="operator")
    auth.login("ada@example.org")
    page = client.get(f"/admin/people/{lone.id}").get_data(as_text=True)
    assert "Operator of no location yet" in page
    runs = create_user("runs@example.org", role="operator")
    create_location(runs)
    page = client.get(f"/admin/people/{runs.id}").get_data(as_text=True)
    assert "Operator of no location yet" not in page
    # Saving an operator with no location ticked is not a green "Saved.".
    saved = client.post(
        f"/admin/people/{lone.id}",
        data={"role": "operator", "csrf_token": auth.csrf("/admin/people")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert (
        '<p class="flash warning" role="status">Saved, but this operator runs no'
        " location yet.</p>" in saved
    )
    assert ">Saved.</p>" not in saved
