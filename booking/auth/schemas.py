"""/api/v1/users: people and roles, for network admins (contract)."""

from __future__ import annotations

from typing import Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field

from ..api.contract import Answer, Schema
from ..api.schemas import Id

Role = Literal["member", "operator", "admin"]


class UserQuery(Schema):
    email: str = Field("", max_length=254, description="part of the e-mail address")


class UserChange(Schema):
    messages = {
        "role": _l("Choose member, operator or admin."),
        "is_active": _l("This must be true or false."),
        "location_ids": _l("location_ids must be numbers."),
    }
    role: Role | None = None
    is_active: bool | None = None
    location_ids: list[Id] | None = Field(
        None, description="the locations an operator runs (replaces the list)"
    )


class UserOut(Answer):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    location_ids: list[int] = Field(description="locations this operator runs")
