"""Fixtures shared by the whole suite.

The database is SQLite (a file) unless LANDDESK_TEST_DATABASE_URL points at
PostgreSQL; the schema comes from the Alembic migrations, never create_all.
Every test starts with empty tables.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from booking import create_app
from booking.db import Base
from tests.support.contract import check_answer

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-not-for-production-use-0123",
    # Assertions read English; tests/booking/test_i18n.py checks German.
    "BABEL_DEFAULT_LOCALE": "en",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "MAIL_URL": "console",
    # Booking mails go out right after the commit, deterministically.
    "MAIL_DELIVERY": "inline",
    "PUBLIC_URL": "http://localhost",
    "SERVER_NAME": None,
}


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("LANDDESK_TEST_DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        from booking.cli import upgrade_database

        upgrade_database()
    app.extensions["landdesk_db"].dispose()
    return url


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


def _empty_tables(app) -> None:
    database = app.extensions["landdesk_db"]
    database.session.remove()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def mail_server():
    from tests.support.mail_server import MailServer

    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(mail_server):
    """A real SMTP server; the app sends its mail there in this test."""
    mail_server.clear()
    return mail_server


@pytest.fixture
def app_config(database_url, request) -> dict:
    """Override in a test module to change the app's configuration."""
    config = {**TEST_CONFIG, "DATABASE_URL": database_url}
    if "smtp" in request.fixturenames:
        config["MAIL_URL"] = request.getfixturevalue("smtp").url
    return config


class IsolatedClient(FlaskClient):
    """Each request in its own application context, as in production.

    Tests hold an app context for services and factories; without this, the
    requests would share its ``g`` (and the cached login) with each other.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        request = response.request
        check_answer(self.application, request.method, request.path, response)
        return response


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    _empty_tables(app)
    with app.app_context():
        yield app
    # A background job still running would check a connection out of the
    # pool that dispose() lets go: it would be closed only by the garbage
    # collector (a ResourceWarning at some later test). Let them finish.
    for job in app.extensions["landdesk_background"].values():
        job.drain()
    app.extensions["landdesk_db"].dispose()


@pytest.fixture
def db(app):
    from booking.db import get_db

    return get_db()


@pytest.fixture
def client(app):
    client = app.test_client()
    # Tests read English text unless they ask for German (tests/booking/test_i18n.py).
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def day_strip(page: str) -> tuple[str, list[date]]:
    """The location page's day chooser: its HTML, and the days offered in
    page order (the week arrows, named by their aria-label, left out)."""
    start = page.index('<nav class="days"')
    nav = page[start : page.index("</nav>", start)]
    chips = re.findall(r'\?date=([\d-]{10})"(?! aria-label)', nav)
    return nav, [date.fromisoformat(d) for d in chips]


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Auth:
    """Log in and out through the real forms (CSRF included)."""

    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = "password123"):
        token = csrf_token(self.client, "/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/logout", data={"csrf_token": token})

    def csrf(self, path: str = "/") -> str:
        return csrf_token(self.client, path)

    def api_headers(self) -> dict[str, str]:
        """What our pages' scripts send on unsafe API calls with the cookie."""
        page = self.client.get("/").get_data(as_text=True)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert match, "no CSRF meta tag on /"
        return {"X-CSRF-Token": match.group(1)}


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


# --- factories ---------------------------------------------------------------


@pytest.fixture
def create_user(db):
    from booking.auth.models import Role
    from booking.auth.services import create_user as _create

    counter = iter(range(1, 100000))

    def make(
        email: str | None = None,
        *,
        role: str = "member",
        password: str = "password123",
        name: str = "",
        locale=None,
    ):
        email = email or f"user{next(counter)}@example.org"
        return _create(
            db,
            email=email,
            password=password,
            name=name,
            role=Role(role),
            locale=locale,
        )

    return make


@pytest.fixture
def create_location(db, create_user):
    from booking.spaces.services import create_location as _create

    counter = iter(range(1, 100000))

    def make(operator=None, **values):
        operator = operator or create_user(role="operator")
        n = next(counter)
        values = {
            "name": f"Space {n}",
            "slug": f"space-{n}",
            "address": "Markt 1, 04838 Eilenburg",
            "lat": 51.46,
            "lon": 12.63,
            **values,
        }
        return _create(db, operator, values)

    return make


@pytest.fixture
def create_resource(db):
    from booking.spaces.services import create_resource as _create

    def make(location, kind: str = "desk", name: str | None = None, **values):
        operator = location.operators[0]
        return _create(
            db,
            operator,
            location.id,
            {"name": name or f"{kind} {kind}", "kind": kind, **values},
        )

    return make


@pytest.fixture
def api(app, db):
    """A test client for a user, authenticated with a bearer token."""
    from booking.auth.models import SessionKind
    from booking.auth.services import start_session

    def make(user=None):
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if user is not None:
            token = start_session(db, user, SessionKind.API)
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make


def next_weekday(weekday: int, *, after: date | None = None, min_days: int = 1) -> date:
    """The next Monday (0) ... Sunday (6) at least ``min_days`` ahead."""
    day = (after or date.today()) + timedelta(days=min_days)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day
