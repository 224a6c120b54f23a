"""Opening hours and the local calendar of a location.

Opening hours travel as ``{"mon": [["08:00", "18:00"]], ..., "sun": []}``: a
list of intervals per weekday in local time, ``"24:00"`` ending a day at
midnight, an empty or missing day closed. Everything here turns local wall
times into UTC instants with zoneinfo, so daylight-saving days come out right
(a Sunday in March is 23 hours long, one in October 25).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import lazy_gettext as _l

from ..errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60


def default_opening_hours() -> dict[str, list[list[str]]]:
    """Monday to Friday 08:00-18:00, closed at the weekend."""
    return {
        day: ([["08:00", "18:00"]] if day not in ("sat", "sun") else [])
        for day in WEEKDAYS
    }


def parse_minutes(value: str, *, allow_midnight_end: bool = False) -> int:
    """``"HH:MM"`` to minutes after midnight; ``"24:00"`` only as an end."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise InvalidInput(_l("Times are written as HH:MM."), field="opening_hours")
    digits = value[:2] + value[3:]
    # int() alone would take "-1", "+1" or " 1" as an hour.
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidInput(_l("Times are written as HH:MM."), field="opening_hours")
    hours, minutes = int(value[:2]), int(value[3:])
    total = hours * 60 + minutes
    if (
        minutes >= 60
        or total > DAY_MINUTES
        or (total == DAY_MINUTES and not allow_midnight_end)
    ):
        raise InvalidInput(
            _l("%(value)s is not a time of day.", value=value), field="opening_hours"
        )
    return total


def format_minutes(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def validate_opening_hours(value) -> dict[str, list[list[str]]]:
    """Check and normalise opening hours; raises InvalidInput."""
    if not isinstance(value, dict):
        raise InvalidInput(
            _l("Opening hours must map weekdays to lists of intervals."),
            field="opening_hours",
        )
    unknown = set(value) - set(WEEKDAYS)
    if unknown:
        raise InvalidInput(
            _l("Unknown weekday: %(day)s.", day=", ".join(sorted(unknown))),
            field="opening_hours",
        )
    result: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        intervals = value.get(day) or []
        if not isinstance(intervals, list):
            raise InvalidInput(
                _l("Opening hours must map weekdays to lists of intervals."),
                field="opening_hours",
            )
        parsed = []
        for interval in intervals:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise InvalidInput(
                    _l("Each interval is a pair [from, to]."), field="opening_hours"
                )
            start = parse_minutes(interval[0])
            end = parse_minutes(interval[1], allow_midnight_end=True)
            if end <= start:
                raise InvalidInput(
                    _l("An interval must end after it starts."), field="opening_hours"
                )
            parsed.append((start, end))
        parsed.sort()
        for (_, previous_end), (next_start, _) in zip(parsed, parsed[1:], strict=False):
            if next_start < previous_end:
                raise InvalidInput(
                    _l("Opening intervals of a day must not overlap."),
                    field="opening_hours",
                )
        result[day] = [[format_minutes(s), format_minutes(e)] for s, e in parsed]
    return result


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            _l("Unknown time zone: %(name)s.", name=name), field="timezone"
        ) from None
    if name not in available_timezones():
        raise InvalidInput(
            _l("Unknown time zone: %(name)s.", name=name), field="timezone"
        )
    return name


def local_instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time; minute 1440 is the next midnight."""
    extra_days, minute = divmod(minute, DAY_MINUTES)
    wall = datetime.combine(day + timedelta(days=extra_days), time(), tzinfo=tz)
    wall = wall.replace(hour=minute // 60, minute=minute % 60)
    return wall.astimezone(UTC)


def local_date(instant: datetime, tz_name: str) -> date:
    return instant.astimezone(ZoneInfo(tz_name)).date()


@dataclass(frozen=True)
class DayPlan:
    """The bookable periods of one location on one local day, in UTC."""

    day: date
    windows: tuple[tuple[datetime, datetime], ...]  # opening intervals
    full: tuple[datetime, datetime] | None
    am: tuple[datetime, datetime] | None
    pm: tuple[datetime, datetime] | None

    @property
    def is_open(self) -> bool:
        return bool(self.windows)

    @property
    def has_half_days(self) -> bool:
        return self.am is not None and self.pm is not None


def day_plan(opening_hours: dict, tz_name: str, midday: str, day: date) -> DayPlan:
    intervals = opening_hours.get(WEEKDAYS[day.weekday()]) or []
    return _day_plan(tuple(map(tuple, intervals)), tz_name, midday, day)


# Every booking and every availability answer needs the plan of one
# location-day; working it out (time zone arithmetic) cost a few percent of
# a booking. A plan depends only on these arguments, so it is kept.
@lru_cache(maxsize=4096)
def _day_plan(
    intervals: tuple[tuple[str, str], ...], tz_name: str, midday: str, day: date
) -> DayPlan:
    tz = ZoneInfo(tz_name)
    minutes = [
        (parse_minutes(s), parse_minutes(e, allow_midnight_end=True))
        for s, e in intervals
    ]
    windows = tuple(
        (local_instant(day, s, tz), local_instant(day, e, tz)) for s, e in minutes
    )
    if not minutes:
        return DayPlan(day, (), None, None, None)
    first_open, last_close = minutes[0][0], minutes[-1][1]
    noon = parse_minutes(midday)
    full = (local_instant(day, first_open, tz), local_instant(day, last_close, tz))
    am = pm = None
    if first_open < noon < last_close:
        am = (full[0], local_instant(day, noon, tz))
        pm = (local_instant(day, noon, tz), full[1])
    return DayPlan(day, windows, full, am, pm)
