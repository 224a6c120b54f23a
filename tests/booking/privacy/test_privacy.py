"""Data export, account deletion, operators limited to their locations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.auth.models import User
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.services import BookingRequest, create_booking
from booking.privacy import services
from tests.conftest import Auth, next_weekday


@pytest.fixture
def two_spaces(create_location, create_resource):
    a, b = create_location(horizon_days=60), create_location(horizon_days=60)
    return (a, create_resource(a, "desk", "A1")), (b, create_resource(b, "desk", "B1"))


def test_export_holds_everything(db, api, two_spaces, create_user):
    (a, desk_a), _ = two_spaces
    member = create_user("m@example.org", name="Mia")
    create_booking(db, member, BookingRequest(desk_a.id, on=next_weekday(1)))
    client = api(member)
    client.put("/api/v1/me/notifications", json={"reminder": False})
    data = client.get("/api/v1/me/export").get_json()
    assert data["account"]["email"] == "m@example.org"
    assert len(data["bookings"]) == 1 and data["bookings"][0]["resource"] == "A1"
    assert data["notifications_switched_off"] == ["reminder"]
    assert data["logins"] and "token_hash" not in str(data)


def test_delete_account_anonymises(
    db, api, two_spaces, create_user, create_user_password="password123"
):
    (a, desk_a), _ = two_spaces
    member = create_user("gone@example.org", name="Gone")
    future = create_booking(db, member, BookingRequest(desk_a.id, on=next_weekday(1)))
    past = create_booking(
        db,
        member,
        BookingRequest(desk_a.id, on=next_weekday(2)),
    )
    client = api(member)
    assert client.delete("/api/v1/me", json={"password": "wrong"}).status_code == 403
    assert (
        client.delete("/api/v1/me", json={"password": "password123"}).status_code == 204
    )
    db.rollback()
    db.expire_all()
    user = db.get(User, member.id)
    assert (
        user.email.endswith("@deleted.invalid")
        and user.name == ""
        and not user.is_active
    )
    assert db.get(Booking, future.id).status == BookingStatus.CANCELLED
    assert db.get(Booking, past.id).user_id == member.id  # kept for statistics
    assert client.get("/api/v1/me").status_code == 401
    assert db.scalar(select(User).where(User.email == "gone@example.org")) is None


def test_door_log_retention_hook(app, db):
    seen = []

    def fake_door_log(db, cutoff):
        seen.append(cutoff)
        return 3

    services.DOOR_LOG_ANONYMISERS.append(fake_door_log)
    try:
        app.config["DOOR_LOG_RETENTION_DAYS"] = 30
        assert services.anonymise_door_log(db) == 3
    finally:
        services.DOOR_LOG_ANONYMISERS.remove(fake_door_log)
    from booking.db import utcnow

    assert abs((utcnow() - seen[0]) - timedelta(days=30)) < timedelta(minutes=1)


def test_operators_see_members_only_for_their_locations(
    db, api, two_spaces, create_user
):
    (a, desk_a), (b, desk_b) = two_spaces
    member = create_user("m@example.org")
    create_booking(db, member, BookingRequest(desk_a.id, on=next_weekday(1)))
    create_booking(db, member, BookingRequest(desk_b.id, on=next_weekday(2)))
    op_a = api(a.operators[0])
    seen = op_a.get(f"/api/v1/locations/{a.id}/members?email=m@example.org").get_json()
    assert [bk["resource"] for bk in seen["bookings"]] == ["A1"]
    assert (
        op_a.get(f"/api/v1/locations/{b.id}/members?email=m@example.org").status_code
        == 403
    )
    stranger = create_user("s@example.org")
    assert (
        op_a.get(f"/api/v1/locations/{a.id}/members?email=s@example.org").status_code
        == 404
    )
    assert stranger


def test_a_wrong_password_on_the_delete_form_is_said_at_the_form(
    client, auth, create_user
):
    """The page scrolls to the form that was sent; its error stands there,
    not at the top, 1,400 px away on a phone."""
    create_user("del@example.org")
    auth.login("del@example.org")
    answer = client.post(
        "/account/delete",
        data={"password": "wrong", "csrf_token": auth.csrf("/account/")},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/account/?at=delete#delete")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    section = page.split('<h3 id="delete">')[1]
    assert 'class="flash error"' in section
    assert 'class="flash error"' not in page.split('<h3 id="delete">')[0]


def test_a_member_changes_the_password_and_other_logins_end(
    app, client, auth, api, create_user
):
    create_user("pw@example.org")
    auth.login("pw@example.org")
    other = app.test_client()
    Auth(other).login("pw@example.org")
    assert other.get("/account/").status_code == 200

    def change(current, new, confirm=None):
        return client.post(
            "/account/password",
            data={
                "current_password": current,
                "new_password": new,
                "confirm": new if confirm is None else confirm,
                "csrf_token": auth.csrf("/account/"),
            },
        )

    # Refusals are said at the form, and change nothing.
    for sent, message in (
        (("wrong", "a-new-secret-1"), "The current password is wrong."),
        (("password123", "short"), "at least"),
        (("password123", "a-new-secret-1", "a-new-secret-2"), "differ"),
    ):
        answer = change(*sent)
        assert answer.headers["Location"].endswith("/account/?at=password#password")
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        section = page.split('<h2 id="password">')[1].split("<h2")[0]
        assert message in section and 'class="flash error"' in section
    assert other.get("/account/").status_code == 200

    answer = change("password123", "a-new-secret-1")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your password is changed" in page
    # This login stays, the other one has ended; the new password works.
    assert client.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    auth.logout()
    assert auth.login("pw@example.org", "password123").status_code != 302
    assert auth.login("pw@example.org", "a-new-secret-1").status_code == 302
