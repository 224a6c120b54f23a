"""Language choice and local-time formatting for templates."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from flask import Flask, current_app, has_request_context, request
from flask_babel import format_currency, get_locale, lazy_gettext
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


def locale_for(user) -> str:
    """The language to write to ``user`` in outside a request (mails): theirs
    if the site offers it, else the default."""
    languages = current_app.config["LANGUAGES"]
    if user.locale in languages:
        return user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


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


# The one place dates and times get their shape. English pages follow British
# conventions (24-hour clock, day before month: "8 Dec 2026", never "12:00 AM");
# German pages write dates with two-digit days and months ("08.12.2026"), also
# after the weekday. Templates, mails and flashes all come through here.
FORMAT_LOCALES = {"de": "de_DE", "en": "en_GB"}
DATE_PATTERNS = {"de": {"full": "EEEE, dd.MM.y"}}


def format_locale() -> Locale:
    """The CLDR locale whose conventions the reader's language follows."""
    language = str(get_locale())
    return Locale.parse(FORMAT_LOCALES.get(language.split("_")[0], language))


def _date_pattern(fmt: str) -> str:
    language = str(get_locale()).split("_")[0]
    return DATE_PATTERNS.get(language, {}).get(fmt, fmt)


def localtime(instant: datetime, tz_name: str, fmt: str = "short") -> str:
    """Format a UTC instant's wall time in a location's zone ("08:00")."""
    local = instant.astimezone(ZoneInfo(tz_name))
    return babel_dates.format_time(local, fmt, locale=format_locale())


def localdatetime(instant: datetime, tz_name: str, fmt: str = "medium") -> str:
    """Date and time of a UTC instant in a location's zone ("08.12.2026, 07:30").

    ``fmt`` is the width of the date part; times never show seconds.
    """
    local = instant.astimezone(ZoneInfo(tz_name))
    day = localdate(local.date(), fmt="medium" if fmt == "short" else fmt)
    return f"{day}, {babel_dates.format_time(local, 'short', locale=format_locale())}"


def localdate(
    value: date | datetime,
    tz_name: str | None = None,
    fmt: str = "full",
    skeleton: str | None = None,
) -> str:
    """A date in the reader's language.

    ``fmt`` is a CLDR width ("full", "medium", ...) or pattern; a ``skeleton``
    such as ``"MEd"`` names the fields only and lets the locale order them
    ("Di., 8.12." in German, "Tue 08/12" in English).
    """
    if isinstance(value, datetime):
        value = value.astimezone(ZoneInfo(tz_name or "UTC")).date()
    locale = format_locale()
    if skeleton is not None:
        fmt = locale.datetime_skeletons[skeleton].pattern
    return babel_dates.format_date(value, _date_pattern(fmt), locale=locale)


def localmonth(value: date | str) -> str:
    """A month ("Dezember 2026"); takes a date or a "YYYY-MM" period key."""
    if isinstance(value, str):
        value = date.fromisoformat(value + "-01")
    return babel_dates.format_date(value, "LLLL y", locale=format_locale())


def euro_amount(cents: int, currency: str = "EUR") -> str:
    """An amount in the reader's language ("12,00 €"): the pages' ``money``
    macro (filter ``euros``) and messages that name one."""
    return format_currency(Decimal(cents) / 100, currency)


ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def readable_dates(text: str) -> str:
    """Stored text with ISO days in it (order descriptions such as "Desk 1
    2026-12-08") as the reader writes dates."""

    def one(match: re.Match) -> str:
        try:
            return localdate(date.fromisoformat(match.group(0)), fmt="medium")
        except ValueError:
            return match.group(0)

    return ISO_DAY.sub(one, text or "")


def timespan(starts_at: datetime, ends_at: datetime, tz_name: str) -> str:
    """ "08:00–13:00", or "whole day" for a span from midnight to midnight."""
    tz = ZoneInfo(tz_name)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    if start.time() == end.time() == time(0) and end > start:
        return str(lazy_gettext("whole day"))
    return f"{localtime(starts_at, tz_name)}–{localtime(ends_at, tz_name)}"


def clock(value: str, fmt: str = "short") -> str:
    """A wall time stored as ``"HH:MM"`` (opening hours) in the reader's style."""
    hours, minutes = int(value[:2]), int(value[3:5])
    text = babel_dates.format_time(
        time(hours % 24, minutes), fmt, locale=format_locale()
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
    app.jinja_env.filters["localmonth"] = localmonth
    app.jinja_env.filters["timespan"] = timespan
    app.jinja_env.filters["readable_dates"] = readable_dates
    app.jinja_env.filters["euros"] = euro_amount
    app.jinja_env.policies["ext.i18n.trimmed"] = True
