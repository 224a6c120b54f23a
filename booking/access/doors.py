"""Doors as every other access module reads them: lookup, the signing secret,
the access margin and the span of an offline PIN.

The lowest layer of booking.access: it imports no other access module but
the models, so services, reports and the MQTT link can all build on it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from devices.pins import PIN_MAX_SLOTS, PIN_SLOT_S

from ..auth.models import User
from ..errors import DomainError, Forbidden, NotFound
from ..spaces.services import can_manage
from . import rules
from .crypto import SecretUnreadable, unseal
from .models import Door

log = logging.getLogger(__name__)


class DoorUnavailable(DomainError):
    status = 503
    code = "door_unavailable"
    default_message = _l(
        "The door cannot be reached right now. Please try again in a moment "
        "or use your PIN."
    )


def access_margin() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("ACCESS_MARGIN_MINUTES", 30)))


def app_secret_key() -> str:
    return str(current_app.config["SECRET_KEY"])


def get_door(db: Session, door_id: int) -> Door:
    # The access rule reads the door's resources and location: one query.
    door = db.get(
        Door,
        door_id,
        options=[joinedload(Door.resources), joinedload(Door.location)],
    )
    if door is None:
        raise NotFound(_l("There is no such door."))
    return door


def get_managed_door(db: Session, actor: User, door_id: int) -> Door:
    """The door if the actor runs its location. Raises NotFound, Forbidden."""
    door = get_door(db, door_id)
    if not can_manage(db, actor, door.location_id):
        raise Forbidden(_l("You do not run this location."))
    return door


def doors_of(db: Session, location_id: int, *, active_only: bool = False) -> list[Door]:
    query = select(Door).where(Door.location_id == location_id)
    if active_only:
        query = query.where(Door.is_active.is_(True))
    return list(db.scalars(query.order_by(Door.name, Door.id)))


# Unsealed secrets by (door, sealed value, SECRET_KEY): a rotation or another
# key seals differently, so a stale entry is never hit; the map stays small.
_unsealed: dict[tuple[int, str, str], str] = {}


def door_secret(door: Door) -> str:
    """The door's signing secret in clear; raises DoorUnavailable if unreadable."""
    if door.secret_enc is None:
        raise DoorUnavailable(_l("This door has no secret."))
    key = (door.id, door.secret_enc, app_secret_key())
    secret = _unsealed.get(key)
    if secret is not None:
        return secret
    try:
        secret = unseal(door.secret_enc, key[2], door_id=door.id)
        if len(_unsealed) >= 1024:
            _unsealed.clear()
        _unsealed[key] = secret
        return secret
    except SecretUnreadable:
        log.error("secret of door %s unreadable: SECRET_KEY changed?", door.id)
        raise DoorUnavailable(
            _l("This door must be set up again: rotate its secret.")
        ) from None


def pin_span(starts_at: datetime, ends_at: datetime) -> tuple[float, float]:
    """The unix window a booking's PIN covers: its access window, at most 24 h."""
    start, end = rules.access_window(starts_at, ends_at, access_margin())
    limit = timedelta(seconds=PIN_MAX_SLOTS * PIN_SLOT_S - 3600)
    if end - start > limit:
        start = max(starts_at, end - limit)
        end = min(end, start + limit)
    return start.timestamp(), end.timestamp()
