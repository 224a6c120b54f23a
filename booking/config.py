"""Configuration: defaults, then instance/config.py, then LANDDESK_* variables.

This is the only module that reads ``os.environ``.
"""

from __future__ import annotations

import os

from flask import Flask

INSECURE_SECRET = "dev-insecure-change-me"


class DefaultConfig:
    SECRET_KEY = INSECURE_SECRET
    # Filled in by load_config: an SQLite file in the instance folder.
    DATABASE_URL: str | None = None
    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    LANGUAGES = ("de", "en")
    DEFAULT_TIMEZONE = "Europe/Berlin"
    # Login throttling: failed attempts per e-mail address and per client address.
    LOGIN_RATE_LIMIT_ACCOUNT = "5/15 minutes"
    LOGIN_RATE_LIMIT_ADDRESS = "20/15 minutes"
    RATELIMIT_STORAGE_URI = "memory://"
    # "console" prints mails to the log (demo); "smtp://user:pass@host:port" sends them.
    MAIL_URL = "console"
    MAIL_FROM = "Landdesk <noreply@landdesk.invalid>"
    # Who sends booking mails (confirmations, cancellations), always after the
    # commit: "thread" (a background thread of each web process; the demo),
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
    MIN_PASSWORD_LENGTH = 8
    # Calendar imports fetch only public addresses; true lets an intranet
    # calendar on a private or loopback address in (docs/security.md).
    CALENDAR_IMPORT_ALLOW_PRIVATE = False


def _coerce(value: str):
    """Env values are strings; accept JSON-ish booleans and integers."""
    lowered = value.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return int(value)
    except ValueError:
        return value


def load_config(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    for key, value in os.environ.items():
        if key.startswith("LANDDESK_") and not key.startswith("LANDDESK_TEST_"):
            app.config[key.removeprefix("LANDDESK_")] = _coerce(value)
    # Stripe keeps its own variable names (see the billing docs).
    for key in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        if key in os.environ:
            app.config[key] = os.environ[key]
    if test_config:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "landdesk.sqlite")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"
    validate_config(app)


def validate_config(app: Flask) -> None:
    config = app.config
    if not config.get("TESTING") and config.get("SECRET_KEY") in (
        None,
        "",
        INSECURE_SECRET,
    ):
        raise RuntimeError(
            "LANDDESK_SECRET_KEY is not set. Set it in the environment or in "
            "instance/config.py (scripts/run does this for the demo)."
        )
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
