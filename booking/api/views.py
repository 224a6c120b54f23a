"""The JSON API under /api/v1 (contract: api/openapi.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..auth import services as auth_services
from ..auth.models import SessionKind
from ..bookings import queries as booking_queries
from ..bookings import services as booking_services
from ..bookings.rules import parse_date
from ..db import get_db, utcnow
from ..errors import InvalidInput, Unauthorized
from ..extensions import limiter, login_form_email
from ..security import SESSION_KEY
from ..spaces import services as space_services
from . import serialize
from .openapi import build_openapi

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_l("Send a JSON object as the request body."))
    return data


def _login_failed(_response) -> bool:
    return bool(g.get("login_failed"))


@bp.post("/auth/token")
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"],
    key_func=login_form_email,
    deduct_when=_login_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"],
    deduct_when=_login_failed,
    scope="login-address",
)
def create_token():
    data = _body()
    db = get_db()
    user = auth_services.authenticate(
        db, str(data.get("email", "")), str(data.get("password", ""))
    )
    if user is None:
        g.login_failed = True
        raise Unauthorized(_l("E-mail address or password is wrong."))
    token = auth_services.start_session(
        db, user, SessionKind.API, request.headers.get("User-Agent")
    )
    return jsonify({"token": token, "token_type": "Bearer"})


@bp.post("/auth/logout")
@login_required
def logout():
    """End the login used for this request (token or browser session)."""
    db = get_db()
    if g.get("auth_method") == "token":
        token = request.headers["Authorization"].partition(" ")[2].strip()
        auth_services.end_session(db, token)
    else:
        auth_services.end_session(db, session.get(SESSION_KEY, ""))
        session.clear()
    return "", 204


@bp.get("/me")
@login_required
def me():
    return jsonify(serialize.user_json(current_user))


@bp.get("/locations")
def list_locations():
    db = get_db()
    locations = space_services.list_locations(db)
    free = booking_queries.free_desks_today(db, locations)
    return jsonify(
        [
            serialize.location_json(loc, free_desks_today=free.get(loc.id))
            for loc in locations
        ]
    )


@bp.post("/locations")
@login_required
def create_location():
    location = space_services.create_location(get_db(), current_user, _body())
    return jsonify(serialize.location_json(location)), 201


@bp.get("/locations/<int:location_id>")
def get_location(location_id: int):
    location = space_services.get_location(get_db(), location_id)
    return jsonify(serialize.location_json(location))


@bp.patch("/locations/<int:location_id>")
@login_required
def update_location(location_id: int):
    location = space_services.update_location(
        get_db(), current_user, location_id, _body()
    )
    return jsonify(serialize.location_json(location))


@bp.put("/locations/<int:location_id>/operators")
@login_required
def set_operators(location_id: int):
    emails = _body().get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise InvalidInput(
            _l("emails must be a list of e-mail addresses."), field="emails"
        )
    location = space_services.set_location_operators(
        get_db(), current_user, location_id, emails
    )
    return jsonify({"emails": [user.email for user in location.operators]})


@bp.get("/locations/<int:location_id>/resources")
def list_resources(location_id: int):
    location = space_services.get_location(get_db(), location_id)
    return jsonify(
        [serialize.resource_json(r) for r in location.resources if r.is_active]
    )


@bp.post("/locations/<int:location_id>/resources")
@login_required
def create_resource(location_id: int):
    resource = space_services.create_resource(
        get_db(), current_user, location_id, _body()
    )
    return jsonify(serialize.resource_json(resource)), 201


@bp.patch("/resources/<int:resource_id>")
@login_required
def update_resource(resource_id: int):
    resource = space_services.update_resource(
        get_db(), current_user, resource_id, _body()
    )
    return jsonify(serialize.resource_json(resource))


@bp.get("/locations/<int:location_id>/closures")
def list_closures(location_id: int):
    db = get_db()
    location = space_services.get_location(db, location_id)
    today = utcnow().date()
    closures = space_services.closures_between(
        db, location.id, today, today.replace(year=today.year + 5)
    )
    return jsonify([serialize.closure_json(c) for c in closures])


@bp.post("/locations/<int:location_id>/closures")
@login_required
def create_closure(location_id: int):
    data = _body()
    closure = space_services.add_closure(
        get_db(),
        current_user,
        location_id,
        starts_on=parse_date(data.get("starts_on")),
        ends_on=parse_date(data.get("ends_on", data.get("starts_on"))),
        resource_id=data.get("resource_id"),
        reason=data.get("reason", ""),
    )
    return jsonify(serialize.closure_json(closure)), 201


@bp.delete("/closures/<int:closure_id>")
@login_required
def delete_closure(closure_id: int):
    space_services.delete_closure(get_db(), current_user, closure_id)
    return "", 204


@bp.get("/locations/<int:location_id>/availability")
def availability(location_id: int):
    db = get_db()
    location = space_services.get_location(db, location_id)
    if "date" not in request.args:
        raise InvalidInput(_l("Give the date as ?date=YYYY-MM-DD."), field="date")
    day = parse_date(request.args["date"])
    return jsonify(
        serialize.availability_json(booking_queries.location_day(db, location, day))
    )


@bp.get("/locations/<int:location_id>/bookings")
@login_required
def location_bookings(location_id: int):
    db = get_db()
    location = space_services.get_managed_location(db, current_user, location_id)
    day = parse_date(request.args.get("date") or utcnow().date().isoformat())
    bookings = booking_queries.day_bookings(db, location, day)
    return jsonify(
        [
            serialize.booking_json(b)
            | {"member": {"id": b.user.id, "name": b.user.name, "email": b.user.email}}
            for b in bookings
        ]
    )


@bp.post("/bookings")
@login_required
def create_booking():
    # A member's token booking of a free desk is answered before Flask, by
    # the express lane (api/express.py); this is everything it hands on.
    data = _body()
    db = get_db()
    holder_id = data.get("user_id")
    if holder_id is None and data.get("member_email"):
        holder_id = booking_services.holder_for_email(db, data["member_email"])
    if holder_id is not None and (
        not isinstance(holder_id, int) or isinstance(holder_id, bool)
    ):
        raise InvalidInput(_l("user_id must be a number."), field="user_id")
    booking_request = booking_services.BookingRequest.from_values(
        data, holder_id=holder_id
    )
    booking = booking_services.create_booking(db, current_user, booking_request)
    body = serialize.booking_json(booking)
    if booking.status == "pending_payment":
        from ..billing.api import payment_json

        body["payment"] = payment_json(booking)
    return jsonify(body), 201


@bp.get("/bookings")
@login_required
def list_bookings():
    db = get_db()
    scope = request.args.get("scope", "all")
    if scope == "all":
        bookings = booking_services.all_bookings_of(db, current_user)
    elif scope in ("upcoming", "past"):
        bookings = booking_services.bookings_of(
            db, current_user, upcoming=scope == "upcoming"
        )
    else:
        raise InvalidInput(_l("scope is all, upcoming or past."), field="scope")
    return jsonify([serialize.booking_json(b) for b in bookings])


@bp.get("/bookings/<int:booking_id>")
@login_required
def get_booking(booking_id: int):
    booking = booking_services.get_booking_for(get_db(), current_user, booking_id)
    return jsonify(serialize.booking_json(booking))


@bp.delete("/bookings/<int:booking_id>")
@login_required
def cancel_booking(booking_id: int):
    booking = booking_services.cancel_booking(get_db(), current_user, booking_id)
    return jsonify(serialize.booking_json(booking))


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_openapi())
