"""Checks on raw input shared by every domain: whole numbers, ids, names."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from flask import session
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapper
from werkzeug.routing import IntegerConverter

from .db import Base
from .errors import InvalidInput

# Ids are INTEGER columns: 32-bit on PostgreSQL, where psycopg 3 binds a
# larger number as a typed parameter and the server refuses it (a 500).
MAX_ID = 2**31 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def is_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" or "٣", which int()
    then refuses with a ValueError."""
    return text.isascii() and text.isdigit()


def parse_int(value: Any, field: str, *, low: int, high: int, message=None) -> int:
    """A whole number from a form string or a JSON number, within [low, high].

    Raises InvalidInput (``message`` or a generic one) for anything else:
    text, fractions, booleans, digits of other scripts, numbers out of range.
    """
    # "is None", not "or": the truth of a lazy string translates it, on
    # every call, for a message that is hardly ever shown.
    if message is None:
        message = _l(
            "Enter a whole number between %(low)s and %(high)s.", low=low, high=high
        )
    if isinstance(value, bool):
        raise InvalidInput(message, field=field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        # int() would take "١٢" or "1_000"; forms and JSON mean ASCII digits.
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
            raise InvalidInput(message, field=field)
        number = int(text)
    else:
        raise InvalidInput(message, field=field)
    if not low <= number <= high:
        raise InvalidInput(message, field=field)
    return number


def parse_id(value: Any, field: str, *, message=None) -> int:
    """A row id (1 to 2^63-1) from a form or JSON. Raises InvalidInput."""
    return parse_int(
        value,
        field,
        low=1,
        high=MAX_ID,
        message=_l("Choose an entry from the list.") if message is None else message,
    )


def clean_name(value: str) -> str:
    """A name as stored: each run of control characters (line breaks, tabs,
    NUL, Unicode line separators) becomes one space, so a name never starts a
    new line in a mail header, a CSV row or a log line; NFC, trimmed.
    """
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", value)).strip()


# Columns that hold a name people gave (a desk, a location, a plan, a person,
# a company, a door, an imported event): they end up in mail headers, CSV
# rows and log lines, where a line break is a way in.
NAME_COLUMNS = frozenset({"name", "summary"})


def _clean_on_set(_target, value, _old, _initiator):
    return clean_name(value) if isinstance(value, str) else value


def _clean_names_of(mapper: Mapper, _class=None) -> None:
    for column in mapper.column_attrs:
        attribute = column.class_attribute
        if column.key in NAME_COLUMNS and not event.contains(
            attribute, "set", _clean_on_set
        ):
            event.listen(attribute, "set", _clean_on_set, retval=True)


def clean_names_on_input() -> None:
    """Every write of a name column, whatever the path (form, API, CLI,
    import), goes through ``clean_name``: the one place this is done."""
    if not event.contains(Mapper, "mapper_configured", _clean_names_of):
        event.listen(Mapper, "mapper_configured", _clean_names_of)
    for mapper in Base.registry.mappers:
        if mapper.configured:
            _clean_names_of(mapper)


def _at_most(number: int) -> str:
    """A regular expression for the decimal numbers 0..number."""
    digits = str(number)
    options = [rf"\d{{1,{len(digits) - 1}}}"]
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            options.append(f"{digits[:i]}[0-{int(digit) - 1}]" + rf"\d{{{rest}}}")
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


class IdConverter(IntegerConverter):
    """``<int:...>`` for the whole app: ids above 2^63-1 match no route (404)
    instead of overflowing the database's 64-bit integers (500). The bound is
    in the pattern too: a value refused only after matching would make the
    router answer 405 where a route of the same path has other methods.
    """

    regex = _at_most(MAX_ID)

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(
            map, fixed_digits=fixed_digits, min=min, max=max, signed=signed
        )


# What a refused form had typed in, kept in the session for the one page the
# refusal leads back to (the booking confirm step, the operator's day view),
# which shows it again instead of empty fields.
_TYPED = "typed_form"


def keep_typed(form, fields: tuple[str, ...]) -> None:
    session[_TYPED] = {key: str(form.get(key, ""))[:254] for key in fields}


def typed_form() -> dict[str, str]:
    """What ``keep_typed`` kept, once (empty when nothing was refused)."""
    return session.pop(_TYPED, None) or {}
