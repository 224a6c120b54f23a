"""Configuration: defaults, then instance/config.py, then LANDDESK_* variables.

``create_app`` loads them in that order (``load_config``), then the test
configuration it was given, and ends with ``validate_config``. This is the
only module that reads ``os.environ``.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from flask import Flask

# Shorter keys are guessable offline from one signed cookie or reset link.
MIN_SECRET_KEY_LENGTH = 32
# Stripe keeps its own variable names (see docs/billing.md).
STRIPE_VARIABLES = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")


class DefaultConfig:
    # No SECRET_KEY: there is no safe default (validate_config refuses none).
    # Filled in by load_config: an SQLite file in the instance folder.
    DATABASE_URL: str | None = None
    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    LANGUAGES = ("de", "en")
    DEFAULT_TIMEZONE = "Europe/Berlin"
    # Failed logins (auth/throttle.py): this many are free per account and
    # client address, per account and per client address within the window;
    # past that, each failure makes the next try wait 1, 2, 4, ... seconds, up
    # to the maximum (the shared ceilings, which the owner may hit through no
    # fault of theirs, delay at most LOGIN_MAX_SHARED_DELAY_S).
    LOGIN_FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
    LOGIN_FREE_FAILURES_PER_ACCOUNT = 50
    LOGIN_FREE_FAILURES_PER_ADDRESS = 100
    LOGIN_FAILURE_WINDOW_S = 3600
    LOGIN_MAX_DELAY_S = 900
    LOGIN_MAX_SHARED_DELAY_S = 60
    RATELIMIT_STORAGE_URI = "memory://"
    # Reverse proxies in front of the service that append to X-Forwarded-For
    # (and set X-Forwarded-Proto); 0 trusts no such header, as anyone can send it.
    TRUSTED_PROXIES = 0
    # "console" prints mails to the log (demo); "smtp://user:pass@host:port" sends them.
    MAIL_URL = "console"
    MAIL_FROM = "Landdesk <noreply@landdesk.invalid>"
    # Who sends mails (booking confirmations and cancellations, and every mail
    # queued in booking.outbox), always after the commit, with retries:
    # "thread" (a background thread of each web process; the demo),
    # "worker" (only `flask notifications deliver --loop`, a process of its
    # own; production), "inline" (right after the commit, in the caller; tests).
    MAIL_DELIVERY = "thread"
    PASSWORD_RESET_MAX_AGE_S = 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Bearer tokens issued by POST /api/v1/auth/token live this long.
    API_TOKEN_MAX_AGE_DAYS = 90
    PUBLIC_URL = "http://127.0.0.1:5000"
    # Request bodies larger than this are refused with 413 before they are
    # read (chunked bodies too: reading stops at the limit). No form, API
    # call or Stripe event comes near 1 MB.
    MAX_CONTENT_LENGTH = 1024 * 1024
    MIN_PASSWORD_LENGTH = 8
    # Calendar imports fetch only public addresses; true lets an intranet
    # calendar on a private or loopback address in (docs/security.md).
    CALENDAR_IMPORT_ALLOW_PRIVATE = False


def load_config(app: Flask, test_config: dict | None) -> None:
    """Defaults, instance/config.py, LANDDESK_* variables, then test_config.

    Variables are parsed as JSON where they can be (``true``, ``30``,
    ``2.5``), else kept as text, as ``Flask.config.from_prefixed_env`` does.
    """
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(prefix="LANDDESK")
    for key in STRIPE_VARIABLES:
        if key in os.environ:
            app.config[key] = os.environ[key]
    if "LANDDESK_TESTING" in os.environ:
        # Being under test is no switch of a deployment: tests hand their
        # configuration to create_app(test_config).
        raise RuntimeError(
            "LANDDESK_TESTING is not a setting; remove it from the environment."
        )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "landdesk.sqlite")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"


def _normalise_types(config) -> None:
    """Settings must have the type of their default; booleans may be spelled
    in any case (the hand-written reader before accepted ``TRUE``)."""
    for key, default in vars(DefaultConfig).items():
        if not key.isupper() or default is None or key not in config:
            continue
        value = config[key]
        if isinstance(default, bool):
            if isinstance(value, str) and value.lower() in ("true", "false"):
                config[key] = value.lower() == "true"
            elif not isinstance(value, bool):
                raise RuntimeError(f"LANDDESK_{key} must be true or false")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise RuntimeError(f"LANDDESK_{key} must be a whole number")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RuntimeError(f"LANDDESK_{key} must be a number")
        elif isinstance(default, str) and not isinstance(value, str):
            # "123" in the environment parses as a number: the text was meant.
            config[key] = str(value)


def validate_config(app: Flask) -> None:
    """The last step of create_app: refuse settings the service cannot run on."""
    config = app.config
    _normalise_types(config)
    secret = config.get("SECRET_KEY")
    if isinstance(secret, int) and not isinstance(secret, bool):
        # All digits in the environment parse as a number; the text was meant.
        secret = config["SECRET_KEY"] = str(secret)
    if not isinstance(secret, str | bytes) or len(secret) < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"LANDDESK_SECRET_KEY must be set to a random text of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters, in the environment or in "
            "instance/config.py (scripts/run writes one for the demo); for "
            "example: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    public = urlsplit(config["PUBLIC_URL"])
    if public.scheme not in ("http", "https") or not public.netloc:
        raise RuntimeError(
            "LANDDESK_PUBLIC_URL must be the service's address, like "
            "https://landdesk.example.org"
        )
    if config["TRUSTED_PROXIES"] < 0:
        raise RuntimeError("LANDDESK_TRUSTED_PROXIES must be 0 or more")
    if config["MAIL_DELIVERY"] not in ("thread", "worker", "inline"):
        raise RuntimeError("MAIL_DELIVERY must be thread, worker or inline")
    if config["BABEL_DEFAULT_LOCALE"] not in config["LANGUAGES"]:
        raise RuntimeError("BABEL_DEFAULT_LOCALE must be one of LANGUAGES")


def database_url_from_env(instance_path: str) -> str:
    """For Alembic's env.py when it runs outside an app (not the normal path)."""
    url = os.environ.get("LANDDESK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{os.path.join(instance_path, 'landdesk.sqlite')}"
