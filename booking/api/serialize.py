"""Answers of the public API, built as the models of api/schemas.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..auth.models import User
from ..bookings.models import Booking
from ..bookings.queries import LocationDay
from ..calendars.services import personal_feed_url
from ..db import get_db
from ..spaces.models import Closure, Location, Resource
from . import schemas, schemas_spaces


def instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_json(user: User) -> schemas.Me:
    return schemas.Me(
        **{
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "roles": user.roles,
            "locale": user.locale,
            "calendar_url": personal_feed_url(get_db(), user),
        }
    )


_NOT_COUNTED = object()


def location_json(
    location: Location, *, free_desks_today: Any = _NOT_COUNTED
) -> schemas.Location:
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
    return schemas.Location(**data)


def resource_json(resource: Resource) -> schemas.Resource:
    return schemas.Resource(
        **{
            "id": resource.id,
            "location_id": resource.location_id,
            "name": resource.name,
            "kind": resource.kind,
            "capacity": resource.capacity,
            "tags": resource.tags or [],
            "description": resource.description,
            "is_active": resource.is_active,
            "prices": resource.prices,
        }
    )


def closure_json(closure: Closure) -> schemas.Closure:
    return schemas.Closure(
        **{
            "id": closure.id,
            "location_id": closure.location_id,
            "resource_id": closure.resource_id,
            "starts_on": closure.starts_on,
            "ends_on": closure.ends_on,
            "reason": closure.reason,
        }
    )


def closure_created_json(closure: Closure) -> schemas_spaces.ClosureCreated:
    return schemas_spaces.ClosureCreated(
        **closure_json(closure).model_dump(),
        cancelled_bookings=list(closure.cancelled_booking_ids),
    )


def booking_json(booking: Booking) -> schemas.Booking:
    return schemas.Booking(
        **{
            "id": booking.id,
            "resource_id": booking.resource_id,
            "location_id": booking.location_id,
            "user_id": booking.user_id,
            "date": booking.booked_on,
            "part": booking.part,
            "seat": booking.seat,
            "start": booking.starts_at,
            "end": booking.ends_at,
            "status": booking.status,
            "created_at": booking.created_at,
            "cancelled_at": booking.cancelled_at,
            "guest": schemas.GuestAnswer(
                name=booking.guest_name or "", email=booking.guest_email
            )
            if booking.guest_email
            else None,
        }
    )


def location_booking_json(booking: Booking) -> schemas.Booking:
    """A booking in a location's day list, with the member who holds it."""
    answer = booking_json(booking)
    user = booking.user
    answer.member = schemas.Member(id=user.id, name=user.name, email=user.email)
    return answer


def availability_json(day: LocationDay) -> schemas.Availability:
    return schemas.Availability(
        **{
            "location_id": day.location.id,
            "date": day.day,
            "timezone": day.location.timezone,
            "open": day.plan.is_open and day.closed_reason is None,
            "closed_reason": day.closed_reason,
            "opening": [{"start": s, "end": e} for s, e in day.plan.windows],
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
                    "prices": entry.resource.prices,
                    "free": [{"start": s, "end": e} for s, e in entry.free],
                    "booked": [
                        {
                            "start": b["start"],
                            "end": b["end"],
                            "seats": b["seats"],
                        }
                        for b in entry.booked
                    ],
                }
                for entry in day.resources
            ],
        }
    )
