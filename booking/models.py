"""Imports every domain's models so that Base.metadata knows all tables."""

from .auth.models import Role, SessionKind, User, UserSession  # noqa: F401
from .bookings.models import Booking, BookingSlot, BookingStatus, DayPart  # noqa: F401
from .spaces.models import (  # noqa: F401
    Closure,
    Location,
    NetworkSettings,
    OperatorModel,
    Resource,
    ResourceKind,
    location_operators,
)
