import re
import time

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
        "LOGIN_FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS": 3,
        "LOGIN_FREE_FAILURES_PER_ACCOUNT": 8,
        "LOGIN_FREE_FAILURES_PER_ADDRESS": 12,
        "LOGIN_MAX_DELAY_S": 900,
        "LOGIN_MAX_SHARED_DELAY_S": 2,
    }


def _from(address: str) -> dict:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def _web_login(client, email, password="password123", **request):
    page = client.get("/login", **request).get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        **request,
    )


def _api_login(client, email, password="password123", **request):
    return client.post(
        "/api/v1/auth/token", json={"email": email, "password": password}, **request
    )


def test_failures_from_one_address_delay_that_address_more_and_more(
    app, client, create_user
):
    create_user("m@example.org")
    attacker = _from("203.0.113.66")
    for _ in range(3):
        assert (
            _web_login(client, "m@example.org", "nope", **attacker).status_code == 401
        )
    # The 4th failure makes the next try wait 1 s; even the right password.
    assert _web_login(client, "m@example.org", "nope", **attacker).status_code == 401
    throttled = _web_login(client, "m@example.org", **attacker)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert _web_login(client, "m@example.org", "nope", **attacker).status_code == 401
    throttled = _api_login(client, "m@example.org", **attacker)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.get_json()["error"] == "rate_limited"


def test_the_owner_from_another_address_is_not_locked_out(app, create_user):
    create_user("m@example.org")
    attacker = app.test_client()
    for _ in range(6):
        _web_login(attacker, "m@example.org", "nope", **_from("203.0.113.66"))
    assert (
        _web_login(attacker, "m@example.org", **_from("203.0.113.66")).status_code
        == 429
    )
    owner = app.test_client()
    assert (
        _web_login(owner, "m@example.org", **_from("198.51.100.7")).status_code == 302
    )


def test_many_addresses_hit_the_account_ceiling_which_only_delays(app, create_user):
    create_user("m@example.org")
    attacker = app.test_client()
    for n in range(9):  # 8 free for the account, from 3 addresses
        address = f"203.0.113.{n % 3}"
        assert (
            _api_login(attacker, "m@example.org", "x", **_from(address)).status_code
            == 401
        )
    owner = app.test_client()
    throttled = _web_login(owner, "m@example.org", **_from("198.51.100.7"))
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) <= 2
    time.sleep(int(throttled.headers["Retry-After"]) + 0.1)
    assert (
        _web_login(owner, "m@example.org", **_from("198.51.100.7")).status_code == 302
    )


def test_web_and_api_failures_count_together(client, create_user):
    create_user("m@example.org")
    assert _web_login(client, "m@example.org", "nope").status_code == 401
    assert _api_login(client, "m@example.org", "nope").status_code == 401
    assert _web_login(client, "m@example.org", "nope").status_code == 401
    assert _api_login(client, "M@example.org", "nope").status_code == 401
    assert _api_login(client, "m@example.org").status_code == 429


def test_a_successful_login_forgets_the_failures_of_its_address(client, create_user):
    create_user("m@example.org")
    for _ in range(3):
        assert _api_login(client, "m@example.org", "nope").status_code == 401
    assert _api_login(client, "m@example.org").status_code == 200
    for _ in range(3):
        assert _api_login(client, "m@example.org", "nope").status_code == 401
    assert _api_login(client, "m@example.org").status_code == 200


def test_successful_logins_are_not_throttled(app, create_user):
    create_user("m@example.org")
    for _ in range(10):
        assert _web_login(app.test_client(), "m@example.org").status_code == 302


def test_forwarded_for_is_ignored_without_trusted_proxies(client, create_user):
    create_user("m@example.org")
    for n in range(4):
        spoofed = {"headers": {"X-Forwarded-For": f"192.0.2.{n}"}}
        assert _api_login(client, "m@example.org", "nope", **spoofed).status_code == 401
    fresh = {"headers": {"X-Forwarded-For": "192.0.2.99"}}
    assert _api_login(client, "m@example.org", **fresh).status_code == 429


class TestBehindOneProxy:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "TRUSTED_PROXIES": 1}

    def test_client_address_comes_from_the_proxys_header(self, client, create_user):
        create_user("m@example.org")
        proxy = {"REMOTE_ADDR": "10.0.0.1"}
        attacker = {
            "environ_overrides": proxy,
            # The attacker's own claim comes first; the proxy appends the truth.
            "headers": {"X-Forwarded-For": "198.51.100.7, 203.0.113.66"},
        }
        for _ in range(4):
            response = _api_login(client, "m@example.org", "nope", **attacker)
            assert response.status_code == 401
        assert _api_login(client, "m@example.org", **attacker).status_code == 429
        # The owner behind the same proxy is another client address.
        owner = {
            "environ_overrides": proxy,
            "headers": {"X-Forwarded-For": "198.51.100.7"},
        }
        assert _api_login(client, "m@example.org", **owner).status_code == 200


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
