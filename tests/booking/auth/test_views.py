import re

import pytest

from tests.conftest import CSRF_RE, csrf_token


def test_register_logs_in_and_hashes_the_password(client, db):
    from booking.auth.models import User

    token = csrf_token(client, "/register")
    response = client.post(
        "/register",
        data={
            "name": "Jana",
            "email": "Jana@Example.org",
            "password": "geheim-123",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    user = db.query(User).one()
    assert user.email == "jana@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert "geheim-123" not in user.password_hash
    assert "My bookings" in client.get("/").get_data(as_text=True)


def test_register_without_csrf_token_is_refused(client, db):
    from booking.auth.models import User

    response = client.post(
        "/register",
        data={"name": "X", "email": "x@example.org", "password": "geheim-123"},
    )
    assert response.status_code == 400
    assert db.query(User).count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "A", "email": "not-an-email", "password": "geheim-123"},
            "valid e-mail",
        ),
        ({"name": "A", "email": "a@example.org", "password": "short"}, "8"),
        ({"name": "", "email": "a@example.org", "password": "geheim-123"}, "required"),
    ],
)
def test_register_shows_errors_next_to_the_field(client, db, data, message):
    from booking.auth.models import User

    response = client.post(
        "/register", data={**data, "csrf_token": csrf_token(client, "/register")}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "field-error" in page and message in page
    assert db.query(User).count() == 0


def test_duplicate_registration_is_refused(client, create_user):
    create_user("taken@example.org")
    response = client.post(
        "/register",
        data={
            "name": "B",
            "email": "TAKEN@example.org",
            "password": "geheim-123",
            "csrf_token": csrf_token(client, "/register"),
        },
    )
    assert response.status_code == 400
    assert "exists already" in response.get_data(as_text=True)


def test_login_and_logout(client, auth, create_user):
    create_user("m@example.org")
    response = auth.login("m@example.org")
    assert response.status_code == 302
    assert client.get("/bookings").status_code == 200
    auth.logout()
    assert client.get("/bookings").status_code == 302


def test_wrong_password_gets_401_and_message(auth, create_user):
    create_user("m@example.org")
    response = auth.login("m@example.org", "wrong-password")
    assert response.status_code == 401
    assert "wrong" in response.get_data(as_text=True)


def test_session_cookie_captured_before_logout_is_dead_after_it(
    app, client, auth, create_user
):
    create_user("m@example.org")
    auth.login("m@example.org")
    stolen = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/bookings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert thief.get("/api/v1/me").status_code == 401


def test_login_redirect_stays_on_site(client, create_user):
    create_user("m@example.org")
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": "m@example.org", "password": "password123", "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "LOGIN_RATE_LIMIT_ACCOUNT": "3/hour",
        "LOGIN_RATE_LIMIT_ADDRESS": "6/hour",
    }


def test_failed_logins_are_throttled_per_account(auth, create_user):
    create_user("m@example.org")
    for _ in range(3):
        assert auth.login("m@example.org", "nope-nope").status_code == 401
    # even the right password is refused while the account is throttled
    assert auth.login("m@example.org").status_code == 429
    # another account from the same address is not affected yet
    create_user("other@example.org")
    assert auth.login("other@example.org").status_code == 302


def test_failed_logins_are_throttled_per_address(auth, create_user):
    for n in range(6):
        assert auth.login(f"nobody{n}@example.org", "nope-nope").status_code == 401
    create_user("m@example.org")
    assert auth.login("m@example.org").status_code == 429


def test_successful_logins_are_not_throttled(app, create_user):
    create_user("m@example.org")
    for _ in range(10):
        client = app.test_client()
        token = csrf_token(client, "/login")
        response = client.post(
            "/login",
            data={
                "email": "m@example.org",
                "password": "password123",
                "csrf_token": token,
            },
        )
        assert response.status_code == 302


def test_api_token_login_is_throttled_too(client, create_user):
    create_user("m@example.org")
    for _ in range(3):
        assert (
            client.post(
                "/api/v1/auth/token", json={"email": "m@example.org", "password": "x"}
            ).status_code
            == 401
        )
    response = client.post(
        "/api/v1/auth/token", json={"email": "m@example.org", "password": "password123"}
    )
    assert response.status_code == 429
    assert response.get_json()["error"] == "rate_limited"


def test_language_switch_sets_cookie_and_user_locale(client, auth, db, create_user):
    from booking.auth.models import User

    user = create_user("m@example.org")
    auth.login("m@example.org")
    response = client.post(
        "/language", data={"lang": "en", "next": "/bookings", "csrf_token": auth.csrf()}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/bookings"
    assert client.get_cookie("lang").value == "en"
    db.rollback()  # end the read snapshot
    db.expire_all()
    assert db.get(User, user.id).locale == "en"


def test_language_switch_refuses_unknown_language(client, auth):
    response = client.post("/language", data={"lang": "xx", "csrf_token": auth.csrf()})
    assert response.status_code == 400


class TestPasswordReset:
    def test_reset_mail_link_sets_new_password_and_ends_sessions(
        self, app, client, auth, db, create_user, smtp
    ):
        user = create_user("m@example.org")
        other_device = app.test_client()
        Auth = type(auth)
        Auth(other_device).login("m@example.org")
        assert other_device.get("/bookings").status_code == 200

        response = client.post(
            "/password/forgot",
            data={
                "email": "m@example.org",
                "csrf_token": csrf_token(client, "/password/forgot"),
            },
        )
        assert response.status_code == 302
        mail = smtp.wait_for_message()
        assert mail["To"] == "m@example.org"
        link = re.search(r"http://\S+/password/reset/\S+", mail.get_content()).group(0)
        path = link.split("localhost", 1)[1]

        token = csrf_token(client, path)
        response = client.post(
            path,
            data={
                "password": "new-secret-1",
                "confirm": "new-secret-1",
                "csrf_token": token,
            },
        )
        assert response.status_code == 302
        assert auth.login("m@example.org", "new-secret-1").status_code == 302
        # the login on the other device ended with the reset
        assert other_device.get("/bookings").status_code == 302
        # and the link works only once
        response = client.post(
            path,
            data={"password": "another-1", "confirm": "another-1", "csrf_token": token},
        )
        assert response.status_code == 400
        assert user.id

    def test_reset_link_is_on_the_public_url_whatever_the_host_header(
        self, app, client, create_user, smtp
    ):
        app.config["PUBLIC_URL"] = "https://landdesk.example.org"
        create_user("m@example.org")
        evil = {"HTTP_HOST": "evil.example"}
        page = client.get("/password/forgot", environ_overrides=evil)
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        response = client.post(
            "/password/forgot",
            data={"email": "m@example.org", "csrf_token": token},
            environ_overrides=evil,
        )
        assert response.status_code == 302
        content = smtp.wait_for_message().get_content()
        assert "evil.example" not in content
        assert "https://landdesk.example.org/password/reset/" in content

    def test_unknown_address_sends_nothing_but_says_the_same(self, client, smtp):
        response = client.post(
            "/password/forgot",
            data={
                "email": "ghost@example.org",
                "csrf_token": csrf_token(client, "/password/forgot"),
            },
        )
        assert response.status_code == 302
        assert smtp.messages == []

    def test_forged_token_is_refused(self, client):
        path = "/password/reset/forged.token.value"
        token = csrf_token(client, path)
        response = client.post(
            path,
            data={
                "password": "new-secret-1",
                "confirm": "new-secret-1",
                "csrf_token": token,
            },
        )
        assert response.status_code == 400
        assert "not valid" in response.get_data(as_text=True)
