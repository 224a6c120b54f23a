"""What someone asks the booking path for (services.create_booking), parsed
from the API's or a form's values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from ..auth.services import normalise_email
from ..errors import InvalidInput
from ..validation import parse_id
from . import rules
from .models import DayPart

# A series books at most this many days in one request (issue 17 point 3).
MAX_SERIES_DAYS = 31


@dataclass(frozen=True)
class Guest:
    """Someone without an account a member or operator books for."""

    name: str
    email: str

    @classmethod
    def from_values(cls, values: object) -> Guest:
        if not isinstance(values, dict):
            raise InvalidInput(
                _l("A guest has a name and an e-mail address."), field="guest"
            )
        name = " ".join(str(values.get("name") or "").split())
        if not name or len(name) > 120:
            raise InvalidInput(
                _l("Give the guest's name (at most 120 characters)."), field="guest"
            )
        typed = str(values.get("email") or "").strip()
        try:
            email = normalise_email(typed)
        except InvalidInput:
            if not typed:
                raise InvalidInput(
                    _l("Give the guest's e-mail address."), field="guest"
                ) from None
            raise InvalidInput(
                _l("The guest's e-mail address is not valid."), field="guest"
            ) from None
        return cls(name, email)


@dataclass(frozen=True)
class BookingRequest:
    """What someone asks for: a day or half day of a desk, or hours of a room."""

    resource_id: int
    on: date | None = None
    part: DayPart = DayPart.FULL
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    holder_id: int | None = None  # an operator booking for a member
    guest: Guest | None = None  # the seat is a guest's, paid by the holder
    # How a paid booking is to be paid ("stripe", "invoice", "on_site"),
    # checked by billing (booking_placed); None: chosen on the order page.
    payment_method: str | None = None

    @classmethod
    def from_values(
        cls, values: dict, *, holder_id: int | None = None
    ) -> BookingRequest:
        """Parse API/form values; raises InvalidInput with the offending field."""
        resource_id = parse_id(
            values.get("resource_id"),
            "resource_id",
            message=_l("Choose a desk or room."),
        )
        payment_method = values.get("payment_method") or None
        guest = None
        if values.get("guest") not in (None, ""):
            guest = Guest.from_values(values["guest"])
        has_day = values.get("date") not in (None, "")
        has_hours = values.get("start") not in (None, "") or values.get("end") not in (
            None,
            "",
        )
        if has_day == has_hours:
            raise InvalidInput(
                _l("Give either a date (desks) or a start and an end (rooms)."),
                field="date",
            )
        if has_day:
            part = values.get("part") or DayPart.FULL
            if part not in (DayPart.FULL, DayPart.AM, DayPart.PM):
                raise InvalidInput(
                    _l("The part of a day is am or pm (or none for the full day)."),
                    field="part",
                )
            return cls(
                resource_id,
                on=rules.parse_date(values["date"]),
                part=DayPart(part),
                holder_id=holder_id,
                guest=guest,
                payment_method=payment_method,
            )
        if values.get("start") in (None, "") or values.get("end") in (None, ""):
            raise InvalidInput(_l("Give a start and an end."), field="end")
        return cls(
            resource_id,
            part=DayPart.HOURS,
            starts_at=rules.parse_instant(values["start"], "start"),
            ends_at=rules.parse_instant(values["end"], "end"),
            holder_id=holder_id,
            guest=guest,
            payment_method=payment_method,
        )

    @classmethod
    def series_from_values(
        cls, values: dict, *, holder_id: int | None = None
    ) -> list[BookingRequest]:
        """A request per day of ``values["dates"]`` (a desk's days; at most
        MAX_SERIES_DAYS, each once, in order), instead of one ``date``."""
        dates = values.get("dates")
        if values.get("date") not in (None, "") or values.get("start") not in (
            None,
            "",
        ):
            raise InvalidInput(
                _l("Give either dates or one date, not both."), field="dates"
            )
        if not isinstance(dates, list | tuple) or not dates:
            raise InvalidInput(_l("Choose at least one day."), field="dates")
        if len(dates) > MAX_SERIES_DAYS:
            raise InvalidInput(
                _l("At most %(n)d days at once.", n=MAX_SERIES_DAYS), field="dates"
            )
        days = sorted({rules.parse_date(day) for day in dates})
        first = cls.from_values(
            {**values, "dates": None, "date": days[0]}, holder_id=holder_id
        )
        return [replace(first, on=day) for day in days]
