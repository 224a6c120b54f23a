"""People and roles in the JSON API, for network admins (people.py)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from ..api.contract import operation
from ..db import get_db
from . import people
from .schemas import UserChange, UserOut, UserQuery

api_bp = Blueprint("people_api", __name__, url_prefix="/api/v1")


def user_json(person: people.Person) -> UserOut:
    user = person.user
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=str(user.role),
        is_active=user.is_active,
        location_ids=person.location_ids,
    )


@api_bp.get("/users")
@login_required
@operation(
    "Accounts whose e-mail address contains `email`, at most 50 (admins only)",
    query=UserQuery,
    answers={200: list[UserOut], 403: "Not a network admin"},
)
def list_users(query: UserQuery):
    return [
        user_json(p) for p in people.find_people(get_db(), current_user, query.email)
    ]


@api_bp.patch("/users/<int:user_id>")
@login_required
@operation(
    "Change a person's role, the locations an operator runs, or switch the "
    "account off (ends its logins); admins only, and never their own admin "
    "role or account",
    body=UserChange,
    answers={
        200: UserOut,
        400: "Not valid, or an admin changing themselves",
        403: "Not a network admin",
        404: "No such person",
    },
)
def change_user(user_id: int, body: UserChange):
    values = body.values()
    person = people.change_person(
        get_db(),
        current_user,
        user_id,
        role=values.get("role"),
        is_active=values.get("is_active"),
        location_ids=values.get("location_ids"),
    )
    return user_json(person)
