"""Language choice and local-time formatting for templates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

from .extensions import babel

LANG_COOKIE = "lang"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    user = current_user
    if user and user.is_authenticated and user.locale in languages:
        return user.locale
    return (
        request.accept_languages.best_match(languages)
        or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def localtime(instant: datetime, tz_name: str, fmt: str = "short") -> str:
    """Format a UTC instant in a location's zone and the reader's language."""
    local = instant.astimezone(ZoneInfo(tz_name))
    return babel_dates.format_time(local, fmt, locale=str(get_locale()))


def localdatetime(instant: datetime, tz_name: str, fmt: str = "medium") -> str:
    local = instant.astimezone(ZoneInfo(tz_name))
    return babel_dates.format_datetime(
        local, fmt, tzinfo=ZoneInfo(tz_name), locale=str(get_locale())
    )


def localdate(
    value: date | datetime, tz_name: str | None = None, fmt: str = "full"
) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz_name or "UTC")).date()
    return babel_dates.format_date(value, fmt, locale=str(get_locale()))


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdatetime"] = localdatetime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.policies["ext.i18n.trimmed"] = True
