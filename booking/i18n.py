"""Language choice and local-time formatting for templates."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel import Locale
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
        browser_language(request.accept_languages, languages)
        or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def browser_language(accepted, languages) -> str | None:
    """The supported language the browser prefers most, by primary subtag.

    Werkzeug's ``best_match`` takes an exact "en;q=0.5" over "de-AT;q=1", so an
    Austrian or Swiss browser would get English; here the higher quality wins.
    """
    for value, _quality in accepted:  # highest quality first
        tag = value.replace("_", "-").lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in languages:
                return candidate
    return None


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
    value: date | datetime,
    tz_name: str | None = None,
    fmt: str = "full",
    skeleton: str | None = None,
) -> str:
    """A date in the reader's language.

    ``fmt`` is a CLDR width ("full", "medium", ...) or pattern; a ``skeleton``
    such as ``"MEd"`` names the fields only and lets the locale order them
    ("Mi., 25.11." in German, "Wed, 11/25" in English).
    """
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz_name or "UTC")).date()
    locale = Locale.parse(str(get_locale()))
    if skeleton is not None:
        fmt = locale.datetime_skeletons[skeleton].pattern
    return babel_dates.format_date(value, fmt, locale=locale)


def clock(value: str, fmt: str = "short") -> str:
    """A wall time stored as ``"HH:MM"`` (opening hours) in the reader's style."""
    hours, minutes = int(value[:2]), int(value[3:5])
    text = babel_dates.format_time(
        time(hours % 24, minutes), fmt, locale=str(get_locale())
    )
    if hours == 24 and text.startswith("00"):
        # "24:00" closes a day at midnight: keep it in 24-hour styles.
        text = "24" + text[2:]
    return text


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localdatetime"] = localdatetime
    app.jinja_env.filters["localdate"] = localdate
    app.jinja_env.filters["clock"] = clock
    app.jinja_env.policies["ext.i18n.trimmed"] = True
