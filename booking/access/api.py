"""Door routes of the JSON API under /api/v1 (documented in api/openapi.py)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..bookings.services import get_booking_for
from ..db import get_db
from ..errors import InvalidInput
from ..spaces.services import can_manage, get_location
from . import audit, services
from .models import AccessEvent, Door
from .views import unlock_limit

api_bp = Blueprint("access_api", __name__, url_prefix="/api/v1")


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_l("Send a JSON object as the request body."))
    return data


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def door_json(door: Door, *, detail: bool) -> dict:
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
                "online_since": _iso(door.online_since),
                "last_seen_at": _iso(door.last_seen_at),
                "battery": door.battery,
                "firmware": door.firmware,
                "secret_rotated_at": _iso(door.secret_rotated_at),
            }
        )
    return data


def event_json(event: AccessEvent) -> dict:
    return {
        "id": event.id,
        "occurred_at": _iso(event.occurred_at),
        "door_id": event.door_id,
        "location_id": event.location_id,
        "user_id": event.user_id,
        "user_email": event.user.email if event.user else None,
        "booking_id": event.booking_id,
        "channel": event.channel,
        "result": event.result,
        "event": event.event_type,
        "reason": event.reason,
        "command_id": event.command_id,
        "offline": event.offline,
    }


@api_bp.get("/locations/<int:location_id>/doors")
@login_required
def list_doors(location_id: int):
    db = get_db()
    get_location(db, location_id)
    detail = can_manage(db, current_user, location_id)
    return jsonify(
        [
            {**door_json(item.door, detail=detail), "can_open": item.can_open}
            for item in services.doors_for_location(db, current_user, location_id)
        ]
    )


@api_bp.post("/locations/<int:location_id>/doors")
@login_required
def create_door(location_id: int):
    door, secret = services.create_door(get_db(), current_user, location_id, _body())
    data = door_json(door, detail=True)
    if secret is not None:
        data["secret"] = secret
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@api_bp.get("/doors/<int:door_id>")
@login_required
def get_door(door_id: int):
    db = get_db()
    door = services.get_managed_door(db, current_user, door_id)
    return jsonify(door_json(door, detail=True))


@api_bp.patch("/doors/<int:door_id>")
@login_required
def update_door(door_id: int):
    door = services.update_door(get_db(), current_user, door_id, _body())
    return jsonify(door_json(door, detail=True))


@api_bp.post("/doors/<int:door_id>/unlock")
@login_required
@unlock_limit
def unlock(door_id: int):
    remote = bool((request.get_json(silent=True) or {}).get("remote"))
    result = services.unlock_door(get_db(), current_user, door_id, remote=remote)
    return jsonify({"status": "opened", "event_id": result.event.id})


@api_bp.post("/doors/<int:door_id>/secret")
@login_required
def rotate_secret(door_id: int):
    door, secret = services.rotate_secret(get_db(), current_user, door_id)
    response = jsonify({"id": door.id, "secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.get("/access-log")
@login_required
def access_log():
    db = get_db()
    filters = audit.log_filter(request.args.to_dict())
    rows = audit.access_log(db, current_user, filters, limit=5000)
    if request.args.get("format") == "csv":
        response = Response(audit.access_log_csv(rows), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            'attachment; filename="landdesk-access-log.csv"'
        )
        return response
    return jsonify([event_json(row) for row in rows])


@api_bp.get("/bookings/<int:booking_id>/doors")
@login_required
def booking_doors(booking_id: int):
    db = get_db()
    booking = get_booking_for(db, current_user, booking_id)
    items = services.doors_for_booking(db, current_user, booking)
    return jsonify(
        [
            {
                **door_json(item.door, detail=False),
                "can_open": item.can_open,
                "pin": item.pin,
                "pin_valid_from": _iso(item.pin_from),
                "pin_valid_until": _iso(item.pin_until),
            }
            for item in items
        ]
    )
