"""The JSON API under /api/v1 (contract: api/schemas.py, via api/contract.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..auth import services as auth_services
from ..auth import throttle
from ..auth.models import SessionKind
from ..bookings import queries as booking_queries
from ..bookings import series as booking_series
from ..bookings import services as booking_services
from ..bookings.rules import parse_date
from ..db import get_db, utcnow
from ..errors import BookingConflict, RateLimited, Unauthorized
from ..security import SESSION_KEY
from ..spaces import services as space_services
from ..spaces import setup as space_setup
from . import schemas, schemas_spaces, serialize
from .contract import build_openapi, operation

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/auth/token")
@operation(
    "Log in and get a bearer token",
    public=True,
    body=schemas.Credentials,
    answers={
        200: schemas.Token,
        401: "Wrong e-mail or password",
        429: "Too many failed attempts: wait as long as Retry-After says",
    },
)
def create_token(body: schemas.Credentials):
    db = get_db()
    email, address = body.email, request.remote_addr or ""
    wait = throttle.login_wait_s(email, address)
    if wait:
        raise RateLimited(retry_after_s=wait)
    user = auth_services.authenticate(db, email, body.password)
    if user is None:
        throttle.record_failed_login(email, address)
        raise Unauthorized(_l("E-mail address or password is wrong."))
    throttle.record_login(email, address)
    token = auth_services.start_session(
        db, user, SessionKind.API, request.headers.get("User-Agent")
    )
    return schemas.Token(token=token, token_type="Bearer")


@bp.post("/auth/logout")
@login_required
@operation(
    "End the login used by this request; the token stops working",
    answers={204: (None, "Logged out")},
)
def logout():
    """End the login used for this request (token or browser session)."""
    db = get_db()
    if g.get("auth_method") == "token":
        token = request.headers["Authorization"].partition(" ")[2].strip()
        auth_services.end_session(db, token)
    else:
        auth_services.end_session(db, session.get(SESSION_KEY, ""))
        session.clear()
    return None


@bp.get("/me")
@login_required
@operation("The caller", answers={200: schemas.Me})
def me():
    return serialize.user_json(current_user)


@bp.get("/locations")
@operation(
    "All active locations of the network",
    public=True,
    answers={200: list[schemas.Location]},
)
def list_locations():
    db = get_db()
    locations = space_services.list_locations(db)
    free = booking_queries.free_desks_today(db, locations)
    return [
        serialize.location_json(loc, free_desks_today=free.get(loc.id))
        for loc in locations
    ]


@bp.post("/locations")
@login_required
@operation(
    "Create a location (operators; the creator runs it)",
    body=schemas.LocationInput,
    answers={201: (schemas.Location, "Created"), 403: "Not an operator"},
)
def create_location(body: schemas.LocationInput):
    location = space_services.create_location(get_db(), current_user, body.values())
    return serialize.location_json(location), 201


@bp.get("/locations/<int:location_id>")
@operation("One location", public=True, answers={200: schemas.Location})
def get_location(location_id: int):
    location = space_services.get_location(get_db(), location_id)
    return serialize.location_json(location)


@bp.patch("/locations/<int:location_id>")
@login_required
@operation(
    "Change a location you run",
    body=schemas.LocationInput,
    answers={200: schemas.Location, 403: "Not one of your locations"},
)
def update_location(location_id: int, body: schemas.LocationInput):
    location = space_services.update_location(
        get_db(), current_user, location_id, body.values()
    )
    return serialize.location_json(location)


@bp.put("/locations/<int:location_id>/operators")
@login_required
@operation(
    "Set who runs a location (network admins only)",
    body=schemas.Operators,
    answers={
        200: (schemas.OperatorList, "The operators now running the location"),
        403: "Not a network admin",
    },
)
def set_operators(location_id: int, body: schemas.Operators):
    location = space_services.set_location_operators(
        get_db(), current_user, location_id, body.emails
    )
    return schemas.OperatorList(emails=[user.email for user in location.operators])


@bp.get("/locations/<int:location_id>/resources")
@operation(
    "Desks, rooms, booths and flex areas of a location",
    public=True,
    answers={200: list[schemas.Resource]},
)
def list_resources(location_id: int):
    location = space_services.get_location(get_db(), location_id)
    return [serialize.resource_json(r) for r in location.resources if r.is_active]


@bp.post("/locations/<int:location_id>/resources")
@login_required
@operation(
    "Add a resource to a location you run; with count, that many alike",
    body=schemas.ResourceInput,
    answers={
        201: (
            schemas.Resource | list[schemas.Resource],
            "Created: the resource, or with count the list of them",
        ),
        403: "Not one of your locations",
    },
)
def create_resource(location_id: int, body: schemas.ResourceInput):
    values = body.values()
    if "count" in values:
        count = values.pop("count")
        resources = space_setup.create_resources(
            get_db(), current_user, location_id, values, count
        )
        return [serialize.resource_json(r) for r in resources], 201
    resource = space_services.create_resource(
        get_db(), current_user, location_id, values
    )
    return serialize.resource_json(resource), 201


@bp.patch("/resources/<int:resource_id>")
@login_required
@operation(
    "Change a resource (its kind is fixed) and its prices",
    body=schemas.ResourceInput,
    answers={200: schemas.Resource, 403: "Not one of your locations"},
)
def update_resource(resource_id: int, body: schemas.ResourceInput):
    resource = space_services.update_resource(
        get_db(), current_user, resource_id, body.values()
    )
    return serialize.resource_json(resource)


@bp.get("/locations/<int:location_id>/closures")
@operation(
    "Current and future closures",
    public=True,
    answers={200: list[schemas.Closure]},
)
def list_closures(location_id: int):
    db = get_db()
    location = space_services.get_location(db, location_id)
    today = utcnow().date()
    closures = space_services.closures_between(
        db, location.id, today, today.replace(year=today.year + 5)
    )
    return [serialize.closure_json(c) for c in closures]


@bp.post("/locations/<int:location_id>/closures")
@login_required
@operation(
    "Close the location or one resource for whole days, cancelling its bookings",
    body=schemas.ClosureInput,
    answers={
        201: (
            schemas_spaces.ClosureCreated,
            "Created; the live bookings it covers are cancelled",
        ),
        403: "Not one of your locations",
    },
)
def create_closure(location_id: int, body: schemas.ClosureInput):
    closure = space_services.add_closure(
        get_db(),
        current_user,
        location_id,
        starts_on=parse_date(body.starts_on),
        ends_on=parse_date(body.ends_on or body.starts_on),
        resource_id=body.resource_id,
        reason=body.reason,
    )
    return serialize.closure_created_json(closure), 201


@bp.delete("/closures/<int:closure_id>")
@login_required
@operation(
    "Remove a closure",
    answers={204: (None, "Removed"), 403: "Not one of your locations"},
)
def delete_closure(closure_id: int):
    space_services.delete_closure(get_db(), current_user, closure_id)


@bp.get("/locations/<int:location_id>/availability")
@operation(
    "Every resource with its free and booked periods on a local date",
    public=True,
    query=schemas.DateQuery,
    answers={200: schemas.Availability},
)
def availability(location_id: int, query: schemas.DateQuery):
    db = get_db()
    location = space_services.get_location(db, location_id)
    day = parse_date(query.date)
    return serialize.availability_json(booking_queries.location_day(db, location, day))


@bp.get("/locations/<int:location_id>/bookings")
@login_required
@operation(
    "All bookings of a day at a location you run, with the members",
    query=schemas.OptionalDateQuery,
    answers={200: list[schemas.Booking], 403: "Not one of your locations"},
)
def location_bookings(location_id: int, query: schemas.OptionalDateQuery):
    db = get_db()
    location = space_services.get_managed_location(db, current_user, location_id)
    day = parse_date(query.date or utcnow().date().isoformat())
    bookings = booking_queries.day_bookings(db, location, day)
    return [serialize.location_booking_json(b) for b in bookings]


@bp.post("/bookings")
@login_required
@operation(
    "Book a desk, seat or room (for yourself, a member or a guest; one day or several)",
    body=schemas.BookingInput,
    answers={
        201: (
            schemas.Booking | schemas.BookingSeries,
            "Booked: confirmed (free, or paid from a pass) or pending_payment "
            "with a payment object; with dates, the days booked and refused",
        ),
        402: "Membership suspended: a payment is overdue (membership_suspended)",
        403: "Not allowed",
        404: "No such desk or room",
        409: "Taken, or the person already has a booking at that time; with "
        "dates, no day was booked (refused lists each day and why)",
    },
)
def create_booking(body: schemas.BookingInput):
    db = get_db()
    holder_id = body.user_id
    if holder_id is None and body.member_email:
        holder_id = booking_services.booking_holder_for_email(
            db, current_user, body.member_email, body.resource_id
        )
    if body.dates is not None:
        return _create_series(db, body, holder_id)
    booking_request = booking_services.BookingRequest.from_values(
        body.values(), holder_id=holder_id
    )
    booking = booking_services.create_booking(db, current_user, booking_request)
    return _booked_json(booking), 201


def _booked_json(booking) -> schemas.Booking:
    answer = serialize.booking_json(booking)
    if booking.settled_by == "payment":
        from ..billing.api import payment_json

        answer.payment = payment_json(booking)
    return answer


def _create_series(db, body: schemas.BookingInput, holder_id: int | None):
    requests = booking_services.BookingRequest.series_from_values(
        body.values(), holder_id=holder_id
    )
    outcome = booking_series.create_bookings(db, current_user, requests)
    refused = [
        schemas.Refusal(date=r.day, error=r.error, message=r.message)
        for r in outcome.refused
    ]
    if not outcome.booked:
        raise BookingConflict(
            _l("None of these days could be booked."),
            refused=[r.model_dump(mode="json") for r in refused],
        )
    bookings = [_booked_json(b) for b in outcome.booked]
    return schemas.BookingSeries(bookings=bookings, refused=refused), 201


@bp.get("/bookings")
@login_required
@operation(
    "The caller's bookings",
    query=schemas.BookingScope,
    answers={200: list[schemas.Booking]},
)
def list_bookings(query: schemas.BookingScope):
    db = get_db()
    if query.scope == "all":
        bookings = booking_services.all_bookings_of(db, current_user)
    else:
        bookings = booking_services.bookings_of(
            db, current_user, upcoming=query.scope == "upcoming"
        )
    return [serialize.booking_json(b) for b in bookings]


@bp.get("/bookings/<int:booking_id>")
@login_required
@operation("One of the caller's bookings", answers={200: schemas.Booking})
def get_booking(booking_id: int):
    booking = booking_services.get_booking_for(get_db(), current_user, booking_id)
    return serialize.booking_json(booking)


@bp.delete("/bookings/<int:booking_id>")
@login_required
@operation(
    "Cancel a booking (yours, or any in a location you run)",
    answers={
        200: (schemas.Booking, "Cancelled"),
        403: "The cancellation deadline has passed",
        409: "Already cancelled or over",
    },
)
def cancel_booking(booking_id: int):
    booking = booking_services.cancel_booking(get_db(), current_user, booking_id)
    return serialize.booking_json(booking)


@bp.get("/openapi.json")
@operation("This document (OpenAPI 3.1)", public=True, answers={200: dict})
def openapi():
    return build_openapi(current_app)
