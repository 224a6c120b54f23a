"""People and roles, for network admins: find accounts by e-mail, make them
operators of chosen locations or admins, switch them off, and invite an
operator who has no account yet (a set-password link by mail).

The one place a role changes; the web pages and /api/v1/users both call it.
An admin can neither take away their own admin role nor switch themselves off,
so a network never loses its last admin by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..db import unit_of_work
from ..errors import Forbidden, InvalidInput, NotFound
from ..spaces.models import Location, location_operators
from ..spaces.services import get_network
from . import services
from .models import Role, User

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Person:
    user: User
    location_ids: list[int]


def _check_admin(actor: User) -> None:
    if not (actor.is_authenticated and actor.is_admin):
        raise Forbidden(_l("Only network admins manage people and roles."))


def _locations_of(db: Session, user_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {uid: [] for uid in user_ids}
    if user_ids:
        rows = db.execute(
            select(location_operators.c.user_id, location_operators.c.location_id)
            .where(location_operators.c.user_id.in_(user_ids))
            .order_by(location_operators.c.location_id)
        )
        for user_id, location_id in rows:
            found[user_id].append(location_id)
    return found


def find_people(db: Session, actor: User, email: str = "") -> list[Person]:
    """Accounts whose e-mail contains ``email`` (all if empty), at most 50."""
    _check_admin(actor)
    needle = (email or "").strip().lower()[:254]
    query = select(User).order_by(User.email).limit(SEARCH_LIMIT)
    if needle:
        query = query.where(User.email.contains(needle, autoescape=True))
    users = list(db.scalars(query))
    locations = _locations_of(db, [u.id for u in users])
    return [Person(u, locations[u.id]) for u in users]


def get_person(db: Session, actor: User, user_id: int) -> Person:
    _check_admin(actor)
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(_l("There is no such person."))
    return Person(user, _locations_of(db, [user.id])[user.id])


def _parse_role(role) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise InvalidInput(
            _l("Choose member, operator or admin."), field="role"
        ) from None


def _clean_location_ids(db: Session, location_ids: Iterable) -> list[int]:
    ids = sorted({int(i) for i in location_ids})
    if ids:
        known = set(db.scalars(select(Location.id).where(Location.id.in_(ids))))
        if known != set(ids):
            raise InvalidInput(_l("There is no such location."), field="location_ids")
    return ids


def _set_locations(db: Session, user: User, ids: list[int]) -> None:
    db.execute(
        delete(location_operators).where(location_operators.c.user_id == user.id)
    )
    if ids:
        db.execute(
            insert(location_operators),
            [{"user_id": user.id, "location_id": i} for i in ids],
        )


def _role_line(role: Role, db: Session, ids: list[int]) -> str:
    """What the invitation makes of the person, for the mail (written in the
    inviting admin's language, as the mail is)."""
    return _role_text(role, db, ids)


def _role_text(role: Role, db: Session, ids: list[int]) -> str:
    if role == Role.ADMIN:
        return str(_l("You will look after the whole network as an admin."))
    if role == Role.OPERATOR:
        names = list(db.scalars(select(Location.name).where(Location.id.in_(ids))))
        if names:
            return str(
                _l("You will run: %(locations)s.", locations=", ".join(sorted(names)))
            )
        return str(_l("You will run locations of the network."))
    return ""


def change_person(
    db: Session,
    actor: User,
    user_id: int,
    *,
    role=None,
    is_active: bool | None = None,
    location_ids: Iterable[int] | None = None,
) -> Person:
    """Change a person's role, the locations they run, whether they may log in.

    A member runs no location (their operator rows go); an admin runs all of
    them anyway. Switching someone off ends their logins. Raises Forbidden,
    NotFound, InvalidInput (also for an admin changing themselves).
    """
    _check_admin(actor)
    new_role = None if role is None else _parse_role(role)
    with unit_of_work(db):
        user = db.get(User, user_id)
        if user is None:
            raise NotFound(_l("There is no such person."))
        if user.id == actor.id and (
            (new_role is not None and new_role != Role.ADMIN) or is_active is False
        ):
            raise InvalidInput(
                _l(
                    "You cannot take away your own admin role or switch yourself "
                    "off. Ask another admin."
                ),
                field="role" if new_role is not None else "is_active",
            )
        ids = None if location_ids is None else _clean_location_ids(db, location_ids)
        if new_role is not None:
            user.role = new_role
        if is_active is not None:
            user.is_active = bool(is_active)
        if user.role == Role.MEMBER:
            ids = []
        if ids is not None:
            _set_locations(db, user, ids)
        db.flush()
    if is_active is False:
        services.end_all_sessions(db, user)
    return get_person(db, actor, user.id)


def invite_person(
    db: Session,
    actor: User,
    *,
    email: str,
    name: str = "",
    role=Role.OPERATOR,
    location_ids: Iterable[int] = (),
    setup_url: Callable[[str], str],
) -> tuple[Person, bool]:
    """Make ``email`` an operator (or admin) of the chosen locations.

    Without an account, one is made with no usable password and the person
    gets a mail with a link to set it (valid 14 days, once). Returns the person
    and whether the account is new. Raises Forbidden, InvalidInput.
    """
    _check_admin(actor)
    new_role = _parse_role(role)
    email = services.normalise_email(email)
    with unit_of_work(db):
        existing = services.find_user(db, email)
        if existing is not None:
            person = change_person(
                db,
                actor,
                existing.id,
                role=new_role,
                location_ids=location_ids,
                is_active=True if existing.id != actor.id else None,
            )
            return person, False
        ids = _clean_location_ids(db, location_ids)
        user = services.create_invited_user(
            db,
            email=email,
            name=name,
            role=new_role,
            invited_by=actor,
            setup_url=setup_url,
            network_name=get_network(db).name,
            reason=_role_line(new_role, db, ids),
        )
        _set_locations(db, user, ids if new_role != Role.MEMBER else [])
    return get_person(db, actor, user.id), True
