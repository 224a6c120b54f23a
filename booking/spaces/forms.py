"""Parsing the operator console's HTML forms into service values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from ..errors import InvalidInput
from .hours import WEEKDAYS


def parse_hours_field(text: str) -> list[list[str]]:
    """``"08:00-12:00, 13:00-18:00"`` → ``[["08:00","12:00"], ["13:00","18:00"]]``."""
    intervals = []
    for chunk in (text or "").replace(";", ",").split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        start, sep, end = chunk.partition("-")
        if not sep:
            raise InvalidInput(
                _l(
                    "Write opening hours like 08:00-18:00, several separated by commas."
                ),
                field="opening_hours",
            )
        intervals.append([start.strip(), end.strip()])
    return intervals


def hours_field(intervals: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def location_values(form: MultiDict) -> dict:
    values = {
        key: form.get(key, "")
        for key in (
            "name",
            "slug",
            "village",
            "address",
            "lat",
            "lon",
            "timezone",
            "operator_model",
            "description",
            "horizon_days",
            "cancel_cutoff_hours",
            "midday",
        )
    }
    values["opening_hours"] = {
        day: parse_hours_field(form.get(f"hours_{day}", "")) for day in WEEKDAYS
    }
    values["is_active"] = form.get("is_active") == "on"
    return values


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
