"""Schemas of the spaces routes added for setting a location up quickly:
prices on resources, resources by count, closures that cancel bookings."""

from __future__ import annotations

from typing import Annotated

from flask_babel import lazy_gettext as _l
from pydantic import Field

from .contract import Answer, Day, Schema

Cents = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]

PRICES_DESCRIPTION = (
    "Gross prices in cents, VAT included, per unit the resource is booked "
    "in: desks and flex areas per day and half day, rooms and booths per "
    "hour. 0 means free. null means the resource is not booked in that unit "
    "(an hour of a desk, a day of a room); in a change, a half day's null "
    "means it costs as much as a full day."
)


class Prices(Answer):
    __doc__ = PRICES_DESCRIPTION
    day: int | None
    half_day: int | None
    hour: int | None


class PricesInput(Schema):
    __doc__ = PRICES_DESCRIPTION
    day: Cents | None = None
    half_day: Cents | None = None
    hour: Cents | None = None


PRICES_MESSAGE = _l("Prices are whole cents per day, half_day and hour.")
Count = Annotated[int, Field(strict=True, ge=1, le=100)]
COUNT_FIELD = Field(
    None,
    description="create this many alike, numbered '<name> 1', '<name> 2', ... "
    "(going on from the highest number there); the answer is then their list",
)


class ClosureCreated(Answer):
    id: int
    location_id: int
    resource_id: int | None
    starts_on: Day
    ends_on: Day
    reason: str | None
    cancelled_bookings: list[int] = Field(
        description="the live bookings the closure covered, now cancelled "
        "(credits returned, payments refunded, members mailed)"
    )
