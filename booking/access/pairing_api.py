"""Pairing routes of the JSON API (access.pairing): the operator's code and
the controller's one-time exchange of it for its configuration."""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from pydantic import Field

from ..api.contract import Answer, Instant, Schema, operation
from ..db import get_db
from ..extensions import limiter
from . import pairing

api_bp = Blueprint("pairing_api", __name__, url_prefix="/api/v1")


class PairingCode(Answer):
    code: str = Field(description="to type or scan at the controller; shown once")
    expires_at: Instant


class PairInput(Schema):
    messages = {"code": _l("There is no such pairing code.")}
    code: str = Field(max_length=64)


class PairedDoor(Answer):
    door_id: str = Field(description="the door's id in topics and broker login")
    mqtt_url: str = Field(description="the broker, with the door's own login")
    prefix: str
    secret: str = Field(description="the door's new signing secret (64 hex)")
    open_s: int


@api_bp.post("/doors/<int:door_id>/pairing")
@login_required
@operation(
    "A pairing code for a Landdesk door module (operators): valid 24 h, single "
    "use; earlier unused codes of the door stop working",
    body_required=False,
    answers={
        201: (PairingCode, "Created"),
        400: "Not a Landdesk door module",
        403: "Not one of your locations",
        404: "No such door",
    },
)
def create_pairing(door_id: int):
    _door, code, expires_at = pairing.start_pairing(get_db(), current_user, door_id)
    answer = PairingCode(code=pairing.format_code(code), expires_at=expires_at)
    return answer, 201, {"Cache-Control": "no-store"}


@api_bp.post("/doors/pair")
@limiter.limit(lambda: current_app.config.get("PAIRING_RATE_LIMIT", "5/minute;30/hour"))
@operation(
    "The controller trades its pairing code for its configuration, once (no "
    "login; rate-limited per address). The door gets a new secret and broker "
    "password",
    body=PairInput,
    public=True,
    answers={
        200: PairedDoor,
        404: "No such code",
        410: "The code was used already or has expired",
        429: "Too many attempts",
    },
)
def pair(body: PairInput):
    config = pairing.redeem(get_db(), body.code)
    return (
        PairedDoor(
            door_id=config.door_id,
            mqtt_url=config.mqtt_url,
            prefix=config.prefix,
            secret=config.secret,
            open_s=config.open_s,
        ),
        200,
        {"Cache-Control": "no-store"},
    )
