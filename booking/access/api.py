"""Door routes of the JSON API under /api/v1 (contract: api/schemas.py)."""

from __future__ import annotations

from flask import Blueprint, Response
from flask_login import current_user, login_required

from ..api import schemas
from ..api.contract import operation
from ..bookings.services import get_booking_for
from ..db import get_db
from ..spaces.services import can_manage, get_location
from . import audit, services
from .models import AccessEvent, Door
from .views import unlock_limit

api_bp = Blueprint("access_api", __name__, url_prefix="/api/v1")


def door_json(door: Door, *, detail: bool, **more) -> schemas.Door:
    data = {
        "id": door.id,
        "location_id": door.location_id,
        "name": door.name,
        "kind": door.kind,
        "online": door.online,
        "is_open": door.is_open,
    }
    if detail:
        data.update(
            {
                "device_id": door.device_id,
                "resource_ids": [r.id for r in door.resources],
                "open_s": door.open_s,
                "is_active": door.is_active,
                "online_since": door.online_since,
                "last_seen_at": door.last_seen_at,
                "battery": door.battery,
                "firmware": door.firmware,
                "secret_rotated_at": door.secret_rotated_at,
            }
        )
    return schemas.Door(**data, **more)


def event_json(event: AccessEvent) -> schemas.AccessEvent:
    return schemas.AccessEvent(
        id=event.id,
        occurred_at=event.occurred_at,
        door_id=event.door_id,
        location_id=event.location_id,
        user_id=event.user_id,
        user_email=event.user.email if event.user else None,
        booking_id=event.booking_id,
        channel=event.channel,
        result=event.result,
        event=event.event_type,
        reason=event.reason,
        command_id=event.command_id,
        offline=event.offline,
    )


@api_bp.get("/locations/<int:location_id>/doors")
@login_required
@operation(
    "A location's doors; operators see device details",
    answers={200: list[schemas.Door]},
)
def list_doors(location_id: int):
    db = get_db()
    get_location(db, location_id)
    detail = can_manage(db, current_user, location_id)
    return [
        door_json(item.door, detail=detail, can_open=item.can_open)
        for item in services.doors_for_location(db, current_user, location_id)
    ]


@api_bp.post("/locations/<int:location_id>/doors")
@login_required
@operation(
    "Add a door (operators); a landdesk door's secret is in this answer only",
    body=schemas.DoorInput,
    answers={201: (schemas.Door, "Created"), 403: "Not one of your locations"},
)
def create_door(location_id: int, body: schemas.DoorInput):
    door, secret = services.create_door(
        get_db(), current_user, location_id, body.values()
    )
    answer = door_json(door, detail=True)
    if secret is not None:
        answer.secret = secret
    return answer, 201, {"Cache-Control": "no-store"}


@api_bp.get("/doors/<int:door_id>")
@login_required
@operation(
    "A door with its reported state (operators)",
    answers={200: schemas.Door, 403: "Not one of your locations"},
)
def get_door(door_id: int):
    db = get_db()
    door = services.get_managed_door(db, current_user, door_id)
    return door_json(door, detail=True)


@api_bp.patch("/doors/<int:door_id>")
@login_required
@operation(
    "Rename, re-assign resources, switch off (operators)",
    body=schemas.DoorInput,
    answers={200: schemas.Door, 403: "Not one of your locations"},
)
def update_door(door_id: int, body: schemas.DoorInput):
    door = services.update_door(get_db(), current_user, door_id, body.values())
    return door_json(door, detail=True)


@api_bp.post("/doors/<int:door_id>/unlock")
@login_required
@unlock_limit
@operation(
    "Open the door: a live booking (from the margin before its start), a 24/7 "
    'membership or an operator. {"remote": true}: an operator opens from afar. '
    "Rate-limited per user",
    body=schemas.UnlockInput,
    body_required=False,
    answers={
        200: (schemas.Unlocked, "Opened: the door acknowledged"),
        403: 'Not allowed; "reason" says why',
        429: "Too many unlock attempts",
        502: 'The door refused; "reason" is its reason',
        503: "The broker cannot be reached",
        504: "The door did not answer in time",
    },
)
def unlock(door_id: int, body: schemas.UnlockInput):
    result = services.unlock_door(get_db(), current_user, door_id, remote=body.remote)
    return schemas.Unlocked(status="opened", event_id=result.event.id)


@api_bp.post("/doors/<int:door_id>/secret")
@login_required
@operation(
    "Rotate a landdesk door's secret; the old one stops working at once",
    answers={
        200: schemas.DoorSecret,
        400: "Vendor doors have no secret",
        403: "Not one of your locations",
    },
)
def rotate_secret(door_id: int):
    door, secret = services.rotate_secret(get_db(), current_user, door_id)
    return (
        schemas.DoorSecret(id=door.id, secret=secret),
        200,
        {"Cache-Control": "no-store"},
    )


@api_bp.get("/access-log")
@login_required
@operation(
    "The audit log of the locations you run, newest first; format=csv exports it",
    query=schemas.AccessLogQuery,
    answers={200: list[schemas.AccessEvent], 403: "Not an operator"},
    more_content={"text/csv": {"schema": {"type": "string"}}},
)
def access_log(query: schemas.AccessLogQuery):
    db = get_db()
    filters = audit.log_filter(query.model_dump(exclude_none=True))
    rows = audit.access_log(db, current_user, filters, limit=5000)
    if query.format == "csv":
        response = Response(audit.access_log_csv(rows), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            'attachment; filename="landdesk-access-log.csv"'
        )
        return response
    return [event_json(row) for row in rows]


@api_bp.get("/bookings/<int:booking_id>/doors")
@login_required
@operation(
    "The doors a booking opens, with its offline PIN for each landdesk door "
    "(pin, pin_valid_from, pin_valid_until)",
    answers={200: list[schemas.Door]},
)
def booking_doors(booking_id: int):
    db = get_db()
    booking = get_booking_for(db, current_user, booking_id)
    items = services.doors_for_booking(db, current_user, booking)
    return [
        door_json(
            item.door,
            detail=False,
            can_open=item.can_open,
            pin=item.pin,
            pin_valid_from=item.pin_from,
            pin_valid_until=item.pin_until,
        )
        for item in items
    ]
