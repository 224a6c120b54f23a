"""Setting a location up in few steps: resources by count, a location with
its resources in one unit of work, one price for every desk."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..auth.models import User
from ..db import unit_of_work
from ..errors import InvalidInput
from .models import DAY_KINDS, HOUR_KINDS, Location, Resource, ResourceKind
from .services import (
    _clean_resource_values,
    clean_prices,
    create_location,
    get_managed_location,
)

MAX_COUNT = 100


def _count(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(_l("The count is a whole number."), field="count")
    if not 1 <= value <= MAX_COUNT:
        raise InvalidInput(
            _l("Between 1 and %(n)d at once.", n=MAX_COUNT), field="count"
        )
    return value


def _next_number(location: Location, name: str) -> int:
    """One more than the highest number among "<name> <number>" resources."""
    pattern = re.compile(rf"^{re.escape(name)} (\d+)$")
    numbers = [
        int(match.group(1))
        for r in location.resources
        if (match := pattern.match(r.name))
    ]
    return max(numbers, default=0) + 1


def _add_numbered(
    db: Session, location: Location, values: dict, count: int
) -> list[Resource]:
    clean = _clean_resource_values(values, creating=True)
    name = clean.pop("name")
    first = _next_number(location, name)
    position = max((r.position for r in location.resources), default=0)
    created = []
    for offset in range(count):
        resource = Resource(
            location_id=location.id,
            **{**clean, "position": clean.get("position") or position + offset + 1},
            name=f"{name} {first + offset}",
        )
        location.resources.append(resource)
        created.append(resource)
    db.flush()
    return created


def create_resources(
    db: Session, actor: User, location_id: int, values: dict, count
) -> list[Resource]:
    """``count`` resources alike, named "<name> 1", "<name> 2", ... (going on
    from the highest number already there). Raises Forbidden, InvalidInput."""
    count = _count(count)
    with unit_of_work(db):
        location = get_managed_location(db, actor, location_id)
        return _add_numbered(db, location, values, count)


def create_location_with_resources(
    db: Session, actor: User, values: dict, groups: list[tuple[dict, int]]
) -> Location:
    """A location and its desks, rooms and areas, all or nothing.

    ``groups``: (resource values, count) pairs; a count of 0 adds none.
    Raises Forbidden, InvalidInput.
    """
    with unit_of_work(db):
        location = create_location(db, actor, values)
        for resource_values, count in groups:
            if count:
                _add_numbered(db, location, resource_values, _count(count))
    return location


def set_prices_of_kind(
    db: Session, actor: User, location_id: int, kind: ResourceKind, prices: dict
) -> list[Resource]:
    """One price for every resource of a kind group at a location: all desks
    and flex areas (by the day), or all rooms and booths (by the hour).
    Raises Forbidden, InvalidInput."""
    group = DAY_KINDS if kind in DAY_KINDS else HOUR_KINDS
    with unit_of_work(db):
        location = get_managed_location(db, actor, location_id)
        clean = clean_prices(prices, kind)
        changed = [r for r in location.resources if r.kind in group]
        for resource in changed:
            for column, cents in clean.items():
                setattr(resource, column, cents)
    return changed
