"""Locations, resources, closures and the network's own settings."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events
from ..auth.models import Role, User
from ..db import unit_of_work, utcnow
from ..errors import Forbidden, InvalidInput, NotFound
from .hours import (
    default_opening_hours,
    local_date,
    parse_minutes,
    validate_opening_hours,
    validate_timezone,
)
from .models import (
    DAY_KINDS,
    Closure,
    Location,
    NetworkSettings,
    OperatorModel,
    Resource,
    ResourceKind,
    location_operators,
)

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TAGS = 20


# --- permissions -----------------------------------------------------------


def can_manage(db: Session, user: User, location_id: int) -> bool:
    """Admins manage every location; operators the ones they run."""
    if not user.is_authenticated:
        return False
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.OPERATOR:
        return False
    return bool(
        db.scalar(
            select(
                exists().where(
                    location_operators.c.location_id == location_id,
                    location_operators.c.user_id == user.id,
                )
            )
        )
    )


def managed_location_ids(db: Session, user: User) -> list[int] | None:
    """None means all (admin)."""
    if user.role == Role.ADMIN:
        return None
    if user.role != Role.OPERATOR:
        return []
    return list(
        db.scalars(
            select(location_operators.c.location_id).where(
                location_operators.c.user_id == user.id
            )
        )
    )


def get_location(db: Session, location_id: int) -> Location:
    location = db.get(Location, location_id)
    if location is None:
        raise NotFound(_l("There is no such location."))
    return location


def get_location_by_slug(db: Session, slug: str) -> Location:
    location = db.scalar(select(Location).where(Location.slug == slug))
    if location is None:
        raise NotFound(_l("There is no such location."))
    return location


def get_managed_location(db: Session, actor: User, location_id: int) -> Location:
    """The location if the actor may manage it; 404 if it does not exist."""
    location = get_location(db, location_id)
    if not can_manage(db, actor, location.id):
        raise Forbidden(_l("You do not run this location."))
    return location


def list_locations(db: Session, *, include_inactive: bool = False) -> list[Location]:
    query = select(Location).order_by(Location.name)
    if not include_inactive:
        query = query.where(Location.is_active)
    return list(db.scalars(query))


# --- locations -------------------------------------------------------------

LOCATION_FIELDS = (
    "name",
    "slug",
    "village",
    "address",
    "lat",
    "lon",
    "timezone",
    "operator_model",
    "description",
    "opening_hours",
    "horizon_days",
    "cancel_cutoff_hours",
    "midday",
    "is_active",
)


def _text(value, field: str, *, max_len: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(_l("This must be text."), field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(_l("This field is required."), field=field)
    if len(value) > max_len:
        raise InvalidInput(_l("At most %(n)d characters.", n=max_len), field=field)
    return value


def _number(value, field: str, *, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise InvalidInput(_l("This must be a number."), field=field)
    if isinstance(value, str):
        # As people write it in German: 51,3646.
        value = value.strip().replace(",", ".", 1) if value.count(",") == 1 else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(_l("This must be a number."), field=field) from None
    if not low <= number <= high:
        raise InvalidInput(
            _l("This must be between %(low)s and %(high)s.", low=low, high=high),
            field=field,
        )
    return number


def _integer(value, field: str, *, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput(_l("This must be a whole number."), field=field)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(_l("This must be a whole number."), field=field) from None
    if isinstance(value, float) and value != number:
        raise InvalidInput(_l("This must be a whole number."), field=field)
    if not low <= number <= high:
        raise InvalidInput(
            _l("This must be between %(low)s and %(high)s.", low=low, high=high),
            field=field,
        )
    return number


def _clean_location_values(values: dict, *, creating: bool) -> dict:
    unknown = set(values) - set(LOCATION_FIELDS)
    if unknown:
        raise InvalidInput(
            _l("Unknown field: %(name)s.", name=", ".join(sorted(unknown))),
            field=sorted(unknown)[0],
        )
    clean: dict = {}
    for field in ("name", "slug", "address", "lat", "lon"):
        if creating and values.get(field) in (None, ""):
            raise InvalidInput(_l("This field is required."), field=field)
    if "name" in values:
        clean["name"] = _text(values["name"], "name", max_len=120, required=True)
    if "slug" in values:
        slug = _text(values["slug"], "slug", max_len=64, required=True).lower()
        if not SLUG_RE.match(slug):
            raise InvalidInput(
                _l("Use lower-case letters, digits and single dashes."), field="slug"
            )
        clean["slug"] = slug
    if "village" in values:
        clean["village"] = _text(values["village"], "village", max_len=120)
    if "address" in values:
        clean["address"] = _text(
            values["address"], "address", max_len=300, required=True
        )
    if "description" in values:
        clean["description"] = _text(values["description"], "description", max_len=5000)
    if "lat" in values:
        clean["lat"] = _number(values["lat"], "lat", low=-90, high=90)
    if "lon" in values:
        clean["lon"] = _number(values["lon"], "lon", low=-180, high=180)
    if "timezone" in values:
        clean["timezone"] = validate_timezone(
            _text(values["timezone"], "timezone", max_len=64, required=True)
        )
    if "operator_model" in values:
        try:
            clean["operator_model"] = OperatorModel(values["operator_model"])
        except ValueError:
            raise InvalidInput(
                _l("Unknown operator model."), field="operator_model"
            ) from None
    if "opening_hours" in values:
        clean["opening_hours"] = validate_opening_hours(values["opening_hours"])
    if "horizon_days" in values:
        clean["horizon_days"] = _integer(
            values["horizon_days"], "horizon_days", low=1, high=730
        )
    if "cancel_cutoff_hours" in values:
        clean["cancel_cutoff_hours"] = _integer(
            values["cancel_cutoff_hours"], "cancel_cutoff_hours", low=0, high=24 * 30
        )
    if "midday" in values:
        midday = _text(values["midday"], "midday", max_len=5, required=True)
        try:
            parse_minutes(midday)
        except InvalidInput:
            raise InvalidInput(
                _l("Times are written as HH:MM."), field="midday"
            ) from None
        clean["midday"] = midday
    if "is_active" in values:
        clean["is_active"] = bool(values["is_active"])
    return clean


REQUIRED_LOCATION_FIELDS = ("name", "slug", "address", "lat", "lon")


def location_errors(values: dict, *, creating: bool) -> dict[str, list]:
    """Every field's error at once (a form shows them together), by field,
    from the same checks ``create_location`` and ``update_location`` make."""
    errors: dict[str, list] = {}
    for field, value in values.items():
        try:
            if creating and field in REQUIRED_LOCATION_FIELDS and value in ("", None):
                raise InvalidInput(_l("This field is required."), field=field)
            _clean_location_values({field: value}, creating=False)
        except InvalidInput as error:
            errors.setdefault(error.field or field, []).append(error.message)
    return errors


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def suggest_slug(db: Session, name: str) -> str:
    """A free short name from a location's name: "Alte Schule Wörlitz" →
    "alte-schule-woerlitz", then "-2", "-3", ... when taken."""
    text = unicodedata.normalize("NFKD", (name or "").lower().translate(_UMLAUTS))
    text = text.encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-") or "standort"
    slug, number = base, 1
    while db.scalar(select(Location.id).where(Location.slug == slug)):
        number += 1
        slug = f"{base}-{number}"
    return slug


def create_location(db: Session, actor: User, values: dict) -> Location:
    """Create a location run by the acting operator.

    Raises Forbidden (not an operator) or InvalidInput.
    """
    if not actor.is_operator:
        raise Forbidden(_l("Only operators can create locations."))
    clean = _clean_location_values(values, creating=True)
    clean.setdefault("opening_hours", default_opening_hours())
    clean.setdefault("timezone", "Europe/Berlin")
    with unit_of_work(db):
        _ensure_slug_free(db, clean["slug"])
        location = Location(**clean)
        location.operators.append(db.merge(actor))
        db.add(location)
        _flush_or_slug_taken(db)
    return location


def update_location(
    db: Session,
    actor: User,
    location_id: int,
    values: dict,
    *,
    operators: list[str] | None = None,
) -> Location:
    """Change a location and, given ``operators``, who runs it, all or nothing.

    Raises NotFound, Forbidden, InvalidInput.
    """
    with unit_of_work(db):
        location = get_managed_location(db, actor, location_id)
        clean = _clean_location_values(values, creating=False)
        if "slug" in clean and clean["slug"] != location.slug:
            _ensure_slug_free(db, clean["slug"])
        for key, value in clean.items():
            setattr(location, key, value)
        _flush_or_slug_taken(db)
        if operators is not None:
            set_location_operators(db, actor, location_id, operators)
    return location


def _ensure_slug_free(db: Session, slug: str) -> None:
    if db.scalar(select(Location.id).where(Location.slug == slug)):
        raise InvalidInput(_l("This short name is taken."), field="slug")


def _flush_or_slug_taken(db: Session) -> None:
    try:
        db.flush()
    except IntegrityError:
        raise InvalidInput(_l("This short name is taken."), field="slug") from None


def set_location_operators(
    db: Session, actor: User, location_id: int, emails: list[str]
) -> Location:
    """Admins decide who runs a location. Raises Forbidden, InvalidInput."""
    if not actor.is_admin:
        raise Forbidden(_l("Only network admins decide who runs a location."))
    with unit_of_work(db):
        location = get_location(db, location_id)
        users = []
        for email in emails:
            user = db.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None or not user.is_operator:
                raise InvalidInput(
                    _l("%(email)s is not an operator account.", email=email),
                    field="operators",
                )
            users.append(user)
        location.operators = users
    return location


# --- resources -------------------------------------------------------------

RESOURCE_FIELDS = (
    "name",
    "kind",
    "capacity",
    "tags",
    "description",
    "position",
    "is_active",
    "prices",
)
MAX_PRICE_CENTS = 10_000_000
PRICE_COLUMNS = {
    "day": "price_day_cents",
    "half_day": "price_half_day_cents",
    "hour": "price_hour_cents",
}


def clean_prices(prices, kind: ResourceKind, current: Resource | None = None) -> dict:
    """``{"day", "half_day", "hour"}`` in cents to the resource's columns.

    A number is a gross price (0: free). None: for a half day "as a full
    day", stored as 0 (read by models.half_day_price_cents); for a unit the
    kind is not booked in (an hour of a desk, a day of a room) the only value
    allowed besides 0. Raises InvalidInput.
    """
    if not isinstance(prices, dict) or set(prices) - set(PRICE_COLUMNS):
        raise InvalidInput(
            _l("Prices are given per day, half_day and hour."), field="prices"
        )
    offered = ("day", "half_day") if kind in DAY_KINDS else ("hour",)
    clean: dict = {}
    for unit, value in prices.items():
        if value is None or (value == 0 and unit not in offered):
            if unit in offered and unit != "half_day":
                raise InvalidInput(_l("Enter a price, 0 for free."), field="prices")
            clean[PRICE_COLUMNS[unit]] = 0
            continue
        if unit not in offered:
            raise InvalidInput(
                _l("Desks and flex areas have prices per day and half day.")
                if kind in DAY_KINDS
                else _l("Rooms and booths have a price per hour."),
                field="prices",
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(_l("Prices are whole cents."), field="prices")
        if not 0 <= value <= MAX_PRICE_CENTS:
            raise InvalidInput(
                _l("A price is between 0 and 100,000 euros."), field="prices"
            )
        clean[PRICE_COLUMNS[unit]] = value
    if kind in DAY_KINDS:
        day = clean.get("price_day_cents", current.price_day_cents if current else 0)
        half = clean.get(
            "price_half_day_cents", current.price_half_day_cents if current else 0
        )
        if prices.get("half_day") == 0 and day:
            raise InvalidInput(
                _l("A half day cannot be free while a full day costs."),
                field="prices",
            )
        if half > day:
            raise InvalidInput(
                _l("A half day must not cost more than a full day."), field="prices"
            )
    return clean


def _clean_resource_values(values: dict, *, creating: bool, current_kind=None) -> dict:
    unknown = set(values) - set(RESOURCE_FIELDS)
    if unknown:
        raise InvalidInput(
            _l("Unknown field: %(name)s.", name=", ".join(sorted(unknown))),
            field=sorted(unknown)[0],
        )
    clean: dict = {}
    if creating or "name" in values:
        clean["name"] = _text(values.get("name"), "name", max_len=120, required=True)
    if creating or "kind" in values:
        try:
            clean["kind"] = ResourceKind(values.get("kind"))
        except ValueError:
            raise InvalidInput(
                _l("The kind is one of desk, room, booth, flex."), field="kind"
            ) from None
        if current_kind is not None and clean["kind"] != current_kind:
            raise InvalidInput(
                _l("The kind of an existing resource cannot change."), field="kind"
            )
    kind = clean.get("kind", current_kind)
    if "capacity" in values or creating:
        capacity = values.get("capacity", 1)
        clean["capacity"] = _integer(capacity, "capacity", low=1, high=500)
        if kind == ResourceKind.DESK and clean["capacity"] != 1:
            raise InvalidInput(
                _l("A desk seats one person; use a flex area for several seats."),
                field="capacity",
            )
    if "tags" in values:
        tags = values["tags"]
        if isinstance(tags, str):
            tags = [t for t in (part.strip() for part in tags.split(",")) if t]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidInput(_l("Tags are a list of words."), field="tags")
        # As the operator spelt them ("Fensterplatz", "ruhig"), once each
        # whatever the case.
        kept: dict[str, str] = {}
        for tag in (t.strip()[:40] for t in tags):
            if tag:
                kept.setdefault(tag.casefold(), tag)
        tags = sorted(kept.values(), key=str.casefold)
        if len(tags) > MAX_TAGS:
            raise InvalidInput(_l("At most %(n)d tags.", n=MAX_TAGS), field="tags")
        clean["tags"] = tags
    if "description" in values:
        clean["description"] = _text(values["description"], "description", max_len=2000)
    if "position" in values:
        clean["position"] = _integer(values["position"], "position", low=0, high=10000)
    if "is_active" in values:
        clean["is_active"] = bool(values["is_active"])
    if "prices" in values:
        clean.update(clean_prices(values["prices"], kind))
    return clean


def create_resource(
    db: Session, actor: User, location_id: int, values: dict
) -> Resource:
    """Add a desk, room, booth or flex area. Raises Forbidden, InvalidInput."""
    with unit_of_work(db):
        location = get_managed_location(db, actor, location_id)
        clean = _clean_resource_values(values, creating=True)
        resource = Resource(location_id=location.id, **clean)
        db.add(resource)
        db.flush()
    return resource


def get_resource(db: Session, resource_id: int) -> Resource:
    resource = db.get(Resource, resource_id)
    if resource is None:
        raise NotFound(_l("There is no such desk or room."))
    return resource


def update_resource(
    db: Session, actor: User, resource_id: int, values: dict
) -> Resource:
    with unit_of_work(db):
        resource = get_resource(db, resource_id)
        get_managed_location(db, actor, resource.location_id)
        clean = _clean_resource_values(
            {k: v for k, v in values.items() if k != "prices"},
            creating=False,
            current_kind=ResourceKind(resource.kind),
        )
        if "prices" in values:
            clean.update(
                clean_prices(values["prices"], ResourceKind(resource.kind), resource)
            )
        if "capacity" in clean and clean["capacity"] < resource.seat_count:
            # Bookings refuses while a seat to be removed is booked.
            events.seats_removed.send(resource, db=db, capacity=clean["capacity"])
        for key, value in clean.items():
            setattr(resource, key, value)
    return resource


# --- closures --------------------------------------------------------------


def add_closure(
    db: Session,
    actor: User,
    location_id: int,
    *,
    starts_on: date,
    ends_on: date,
    resource_id: int | None = None,
    reason: str = "",
) -> Closure:
    """Close a location or one resource for whole days (inclusive).

    The live bookings it covers are cancelled in the same unit of work
    (``events.closure_added``: bookings cancels each through its one cancel
    path, which returns credits, refunds payments and mails the member);
    their ids are left in ``closure.cancelled_booking_ids``.
    """
    if ends_on < starts_on:
        raise InvalidInput(
            _l("The last day must not be before the first."), field="ends_on"
        )
    with unit_of_work(db):
        location = get_managed_location(db, actor, location_id)
        if resource_id is not None:
            resource = get_resource(db, resource_id)
            if resource.location_id != location.id:
                raise NotFound(_l("There is no such desk or room."))
        now = utcnow()
        if starts_on < local_date(now, location.timezone):
            raise InvalidInput(
                _l("The first day is over already: closures are for days to come."),
                field="starts_on",
            )
        if _closed_already(db, location.id, resource_id, starts_on, ends_on):
            raise InvalidInput(
                _l("These days are closed already."), field="starts_on"
            )
        closure = Closure(
            location_id=location.id,
            resource_id=resource_id,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=_text(reason, "reason", max_len=200),
            created_at=now,  # the time its bookings are cancelled at
        )
        db.add(closure)
        db.flush()
        cancelled = []
        for _receiver, ids in events.closure_added.send(
            closure, db=db, actor=actor, now=now
        ):
            cancelled.extend(ids or ())
        closure.cancelled_booking_ids = tuple(cancelled)
    return closure


def _closed_already(
    db: Session,
    location_id: int,
    resource_id: int | None,
    starts_on: date,
    ends_on: date,
) -> bool:
    """Whether one closure covers all these days already (of the location,
    or of this desk or room): a second would change nothing."""
    covering = select(Closure.id).where(
        Closure.location_id == location_id,
        Closure.starts_on <= starts_on,
        Closure.ends_on >= ends_on,
        Closure.resource_id.is_(None)
        if resource_id is None
        else Closure.resource_id.is_(None) | (Closure.resource_id == resource_id),
    )
    return db.scalar(select(exists(covering))) or False


def delete_closure(db: Session, actor: User, closure_id: int) -> None:
    with unit_of_work(db):
        closure = db.get(Closure, closure_id)
        if closure is None:
            raise NotFound()
        get_managed_location(db, actor, closure.location_id)
        db.delete(closure)


def closures_between(
    db: Session, location_id: int, first: date, last: date
) -> list[Closure]:
    return list(
        db.scalars(
            select(Closure)
            .where(
                Closure.location_id == location_id,
                Closure.starts_on <= last,
                Closure.ends_on >= first,
            )
            .order_by(Closure.starts_on)
        )
    )


# --- network ---------------------------------------------------------------


def get_network(db: Session) -> NetworkSettings:
    settings = db.get(NetworkSettings, 1)
    return settings or NetworkSettings(id=1, name="Landdesk", imprint="", privacy="")


def update_network(db: Session, actor: User, values: dict) -> NetworkSettings:
    if not actor.is_admin:
        raise Forbidden(_l("Only network admins can change the network settings."))
    with unit_of_work(db):
        settings = db.get(NetworkSettings, 1)
        if settings is None:
            settings = NetworkSettings(id=1)
            db.add(settings)
        settings.name = _text(values.get("name"), "name", max_len=120, required=True)
        settings.contact_email = _text(
            values.get("contact_email"), "contact_email", max_len=254
        )
        settings.contact_phone = _text(
            values.get("contact_phone"), "contact_phone", max_len=60
        )
        settings.imprint = _text(values.get("imprint"), "imprint", max_len=20000)
        settings.privacy = _text(values.get("privacy"), "privacy", max_len=50000)
        settings.updated_at = utcnow()
    return settings
