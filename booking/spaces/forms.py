"""Parsing the operator console's HTML forms into service values.

People type opening hours as they write them on a door ("9-13 Uhr",
"8.30–12, 13–18", "geschlossen") and coordinates with a decimal comma; the
forms turn that into the services' values and gather every error at once,
each under its field (a weekday's under ``hours_<day>``, naming the day).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from ..errors import InvalidInput
from .hours import WEEKDAYS, validate_opening_hours
from .services import LOCATION_FIELDS

WEEKDAY_LABELS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}
CLOSED_WORDS = {"closed", "geschlossen", "zu", "-", "–"}
# "9", "9:30", "09.30", "9 Uhr", "9h"
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?\s*(?:uhr|h)?"
_INTERVAL = re.compile(rf"^{_TIME}\s*(?:-|–|—|bis|to)\s*{_TIME}$", re.IGNORECASE)


def _clock(hours: str, minutes: str | None) -> str:
    return f"{int(hours):02d}:{minutes or '00'}"


def parse_hours_field(text: str) -> list[list[str]]:
    """``"8-12, 13:00-18 Uhr"`` → ``[["08:00","12:00"], ["13:00","18:00"]]``.

    Empty or "geschlossen" is a closed day. Raises InvalidInput."""
    text = (text or "").strip()
    if text.lower() in CLOSED_WORDS:
        return []
    intervals = []
    for chunk in text.replace(";", ",").replace(" und ", ",").split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        match = _INTERVAL.match(chunk)
        if not match:
            raise InvalidInput(
                _l(
                    "Write opening hours like 08:00-18:00 or 9-13 Uhr, several "
                    "separated by commas."
                ),
                field="opening_hours",
            )
        intervals.append([_clock(*match.group(1, 2)), _clock(*match.group(3, 4))])
    return intervals


def hours_field(intervals: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def opening_hours_values(form: MultiDict, errors: dict) -> dict:
    """Each weekday's hours; a day's error goes to ``errors["hours_<day>"]``
    as "Tuesday: ..." so that the person knows which line to fix."""
    hours = {}
    for day in WEEKDAYS:
        try:
            intervals = parse_hours_field(form.get(f"hours_{day}", ""))
            hours[day] = validate_opening_hours({day: intervals})[day]
        except InvalidInput as error:
            errors.setdefault(f"hours_{day}", []).append(
                f"{WEEKDAY_LABELS[day]}: {error.message}"
            )
    return hours


# The location's fields the form sends as they are; the hours and the
# active box are read apart (below).
LOCATION_FORM_FIELDS = tuple(
    field for field in LOCATION_FIELDS if field not in ("opening_hours", "is_active")
)


def location_values(form: MultiDict, errors: dict | None = None) -> dict:
    """The location's values; with ``errors``, the hours' errors land there
    (else the first raises InvalidInput)."""
    values = {key: form.get(key, "") for key in LOCATION_FORM_FIELDS}
    collected: dict = {}
    values["opening_hours"] = opening_hours_values(form, collected)
    if collected and errors is None:
        first = next(iter(collected.values()))[0]
        raise InvalidInput(first, field="opening_hours")
    if errors is not None:
        for field, messages in collected.items():
            errors.setdefault(field, []).extend(messages)
    values["is_active"] = form.get("is_active") == "on"
    return values


# The new-location form's groups: (kind, count field, size field).
RESOURCE_GROUPS = (
    ("desk", "desks", None),
    ("room", "rooms", "room_capacity"),
    ("flex", "flex_areas", "flex_capacity"),
)
GROUP_NAMES = {
    "desk": _l("Desk"),
    "room": _l("Meeting room"),
    "flex": _l("Flex area"),
}


def _whole(form: MultiDict, field: str, default: int, errors: dict, *, high: int):
    text = (form.get(field) or "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) > high:
        errors.setdefault(field, []).append(
            _l("Enter a whole number from 0 to %(n)d.", n=high)
        )
        return 0
    return int(text)


def resource_groups(form: MultiDict, errors: dict) -> list[tuple[dict, int]]:
    """The desks, rooms and flex areas to create, by count."""
    groups = []
    for kind, count_field, size_field in RESOURCE_GROUPS:
        count = _whole(form, count_field, 0, errors, high=100)
        values = {"name": str(GROUP_NAMES[kind]), "kind": kind}
        if size_field:
            values["capacity"] = max(1, _whole(form, size_field, 1, errors, high=500))
        groups.append((values, count))
    return groups


def resource_values(form: MultiDict, *, creating: bool) -> dict:
    values = {
        "name": form.get("name", ""),
        "capacity": form.get("capacity") or 1,
        "tags": form.get("tags", ""),
        "description": form.get("description", ""),
        "position": form.get("position") or 0,
    }
    if creating:
        values["kind"] = form.get("kind", "")
    else:
        values["is_active"] = form.get("is_active") == "on"
    return values
