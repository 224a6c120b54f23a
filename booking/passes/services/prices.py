"""Prices of bookings and plans: from the resource row, parsed from forms."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking, DayPart
from ...bookings.rules import BookableResource
from ...errors import InvalidInput
from ...spaces.models import Resource, half_day_price_cents
from ...spaces.services import update_resource
from ...validation import is_digits


def booking_price_cents(resource: BookableResource, booking: Booking) -> int:
    """Gross price of a booking from the prices on its resource row."""
    if booking.part == DayPart.FULL:
        return resource.price_day_cents
    if booking.part in (DayPart.AM, DayPart.PM):
        return half_day_price_cents(resource)
    minutes = int((booking.ends_at - booking.starts_at).total_seconds()) // 60
    return -(-resource.price_hour_cents * minutes // 60)


def set_resource_prices(
    db: Session, actor: User, resource_id: int, values: dict[str, Any]
) -> Resource:
    """Set a resource's gross prices from euros as typed ("12,50"), through
    spaces.services.update_resource, whose clean_prices holds the price
    rules. Raises NotFound, Forbidden, InvalidInput."""
    prices = {
        unit: parse_cents(values[field], field)
        for field, unit in (
            ("price_day_cents", "day"),
            ("price_half_day_cents", "half_day"),
            ("price_hour_cents", "hour"),
        )
        if field in values
    }
    if prices.get("half_day") == 0:
        prices["half_day"] = None  # this form's 0: as much as a full day
    return update_resource(db, actor, resource_id, {"prices": prices})


def parse_cents(value: Any, field: str) -> int:
    """Euros as typed by a person ("12", "12.50", "12,5") to integer cents."""
    if isinstance(value, int) and not isinstance(value, bool):
        cents = value
    else:
        text = str(value or "0").strip().replace(",", ".")
        euros, _, frac = text.partition(".")
        if not is_digits(euros) or (frac and (not is_digits(frac) or len(frac) > 2)):
            raise InvalidInput(_l("Enter an amount like 12.50."), field=field)
        cents = int(euros) * 100 + int((frac + "00")[:2])
    if cents < 0 or cents > 10_000_000:
        raise InvalidInput(_l("Enter an amount like 12.50."), field=field)
    return cents
