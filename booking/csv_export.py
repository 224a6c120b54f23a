"""The one CSV writer of every export (funders' reports, access log, ...).

The file's dialect follows the reader's language, chosen here once for every
export: German readers get what German Excel opens by double-click
(semicolons, UTF-8 with a byte order mark, decimal comma, dates as
08.12.2026 14:30); English readers get commas, decimal points and ISO dates.
Headers and values arrive as (lazy) translated text and are rendered in the
reader's language.

Spreadsheets run a cell that starts like a formula (``=``, ``+``, ``-``,
``@``, or tab/CR before one), so a member's home town ``=HYPERLINK(...)`` would
run on the funder's machine (CSV injection, OWASP). Text cells that start with
one of these characters get a leading apostrophe, which shows the text as typed.
Numbers we computed ourselves are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Response, current_app, has_app_context
from flask_babel import get_locale, gettext

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    decimal: str
    bom: bool
    date_format: str
    datetime_format: str


DIALECTS = {
    # What German Excel reads without the import wizard.
    "de": Dialect(";", ",", True, "%d.%m.%Y", "%d.%m.%Y %H:%M:%S"),
    "en": Dialect(",", ".", False, "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"),
}


def current_dialect() -> Dialect:
    """The dialect of the reader's language (the app's default outside a request)."""
    language = ""
    if has_app_context():
        language = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    return DIALECTS.get(language.split("_")[0], DIALECTS["en"])


def _number(value: float, dialect: Dialect) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"
    return text.replace(".", dialect.decimal)


def safe_cell(value: Any, dialect: Dialect | None = None) -> str | int:
    dialect = dialect or DIALECTS["en"]
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _number(value, dialect)
    if isinstance(value, datetime):
        return value.strftime(dialect.datetime_format)
    if isinstance(value, date):
        return value.strftime(dialect.date_format)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(
    header: Iterable[Any], rows: Iterable[Iterable[Any]], dialect: Dialect | None = None
) -> str:
    """The whole file as text: ``header`` then ``rows``, every cell made safe,
    in the reader's dialect (with its byte order mark if it has one)."""
    dialect = dialect or current_dialect()
    out = io.StringIO()
    if dialect.bom:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=dialect.delimiter)
    writer.writerow([safe_cell(cell, dialect) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell, dialect) for cell in row])
    return out.getvalue()


def csv_response(text: str, filename: str) -> Response:
    """A download of ``text`` (from csv_text) named ``filename``."""
    response = Response(text.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
