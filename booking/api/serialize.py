"""JSON shapes of the public API (documented in api/openapi.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..auth.models import User
from ..bookings.models import Booking
from ..bookings.queries import LocationDay
from ..calendars.services import personal_feed_url
from ..db import get_db
from ..spaces.models import Closure, Location, Resource


def instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_json(user: User) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "locale": user.locale,
        "calendar_url": personal_feed_url(get_db(), user),
    }


_NOT_COUNTED = object()


def location_json(location: Location, *, free_desks_today: Any = _NOT_COUNTED) -> dict:
    """A location; with ``free_desks_today`` (None when closed) in lists."""
    data = {
        "id": location.id,
        "slug": location.slug,
        "name": location.name,
        "village": location.village,
        "address": location.address,
        "lat": location.lat,
        "lon": location.lon,
        "timezone": location.timezone,
        "operator_model": location.operator_model,
        "opening_hours": location.opening_hours,
        "horizon_days": location.horizon_days,
        "cancel_cutoff_hours": location.cancel_cutoff_hours,
        "midday": location.midday,
        "is_active": location.is_active,
        "description": location.description,
    }
    if free_desks_today is not _NOT_COUNTED:
        data["free_desks_today"] = free_desks_today
    return data


def resource_json(resource: Resource) -> dict:
    return {
        "id": resource.id,
        "location_id": resource.location_id,
        "name": resource.name,
        "kind": resource.kind,
        "capacity": resource.capacity,
        "tags": resource.tags or [],
        "description": resource.description,
        "is_active": resource.is_active,
    }


def closure_json(closure: Closure) -> dict:
    return {
        "id": closure.id,
        "location_id": closure.location_id,
        "resource_id": closure.resource_id,
        "starts_on": closure.starts_on.isoformat(),
        "ends_on": closure.ends_on.isoformat(),
        "reason": closure.reason,
    }


def booking_json(booking: Booking) -> dict:
    return {
        "id": booking.id,
        "resource_id": booking.resource_id,
        "location_id": booking.location_id,
        "user_id": booking.user_id,
        "date": booking.booked_on.isoformat(),
        "part": booking.part,
        "seat": booking.seat,
        "start": instant(booking.starts_at),
        "end": instant(booking.ends_at),
        "status": booking.status,
        "created_at": instant(booking.created_at),
        "cancelled_at": instant(booking.cancelled_at),
    }


def availability_json(day: LocationDay) -> dict:
    return {
        "location_id": day.location.id,
        "date": day.day.isoformat(),
        "timezone": day.location.timezone,
        "open": day.plan.is_open and day.closed_reason is None,
        "closed_reason": day.closed_reason,
        "opening": [
            {"start": instant(s), "end": instant(e)} for s, e in day.plan.windows
        ],
        "half_days": day.plan.has_half_days,
        "resources": [
            {
                "id": entry.resource.id,
                "name": entry.resource.name,
                "kind": entry.resource.kind,
                "capacity": entry.resource.capacity,
                "tags": entry.resource.tags or [],
                "closed": entry.closed,
                "seats": entry.seats,
                "free_seats": entry.parts or None,
                "fixed_desk": entry.fixed_for is not None,
                "free": [
                    {"start": instant(s), "end": instant(e)} for s, e in entry.free
                ],
                "booked": [
                    {
                        "start": instant(b["start"]),
                        "end": instant(b["end"]),
                        "seats": b["seats"],
                    }
                    for b in entry.booked
                ],
            }
            for entry in day.resources
        ],
    }
