"""The operator console: locations, resources, closures, the day's bookings."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..bookings import closures as booking_closures
from ..bookings import queries as booking_queries
from ..bookings import services as booking_services
from ..bookings.rules import parse_date
from ..db import get_db, utcnow
from ..errors import DomainError, InvalidInput
from ..i18n import format_locale
from ..passes.services.prices import parse_cents
from ..security import admin_required, local_path, operator_required
from ..validation import parse_id, typed_form
from . import services, setup
from .forms import (
    WEEKDAY_LABELS,
    hours_field,
    location_values,
    resource_groups,
    resource_values,
)
from .hours import default_opening_hours
from .models import DAY_KINDS, Location, OperatorModel, ResourceKind

bp = Blueprint("spaces", __name__, url_prefix="/manage")


def price_input(cents: int | None) -> str:
    """Cents as typed into a price field: "12,50" on German pages."""
    if cents is None:
        return ""
    return format_decimal(cents / 100, format="0.00", locale=format_locale())


def decimal_input(value: float | None) -> str:
    """A coordinate as typed into a field: "51,3646" on German pages."""
    if value is None:
        return ""
    return format_decimal(value, format="0.######", locale=format_locale())


@bp.app_context_processor
def _helpers():
    return {
        "hours_field": hours_field,
        "operator_models": list(OperatorModel),
        "resource_kinds": list(ResourceKind),
        "price_input": price_input,
        "decimal_input": decimal_input,
        "weekday_labels": WEEKDAY_LABELS,
    }


def _euros(form, field: str, errors: dict, *, empty=0) -> int | None:
    """A price typed in euros ("12,50") to cents; ``empty`` when left blank."""
    text = (form.get(field) or "").strip().removesuffix("€").strip()
    if not text:
        return empty
    try:
        return parse_cents(text, field)
    except InvalidInput as error:
        errors.setdefault(field, []).append(error.message)
        return None


def _price_values(form, kind: str, errors: dict) -> dict:
    """The prices of a resource form: per day and half day for desks and
    flex areas (an empty half day costs as a full day), per hour for rooms
    and booths. Empty means free."""
    if ResourceKind(kind) in DAY_KINDS:
        return {
            "day": _euros(form, "price_day", errors),
            "half_day": _euros(form, "price_half_day", errors, empty=None),
        }
    return {"hour": _euros(form, "price_hour", errors)}


@bp.get("/")
@operator_required
def console():
    db = get_db()
    ids = services.managed_location_ids(db, current_user)
    locations = [
        loc
        for loc in services.list_locations(db, include_inactive=True)
        if ids is None or loc.id in ids
    ]
    return render_template("operator/console.html", locations=locations)


@bp.route("/locations/new", methods=["GET", "POST"])
@operator_required
def new_location():
    """A location with its hours, desks, rooms and flex areas in one form."""
    if request.method != "POST":
        return _render_location_form(None)
    db = get_db()
    errors: dict = {}
    values = location_values(request.form, errors)
    if not values["slug"].strip() and values["name"].strip():
        values["slug"] = services.suggest_slug(db, values["name"])
    found = services.location_errors(values, creating=True)
    if "name" in found and not values["slug"].strip():
        del found["slug"]  # made from the name once there is one
    for field, messages in found.items():
        errors.setdefault(field, []).extend(messages)
    groups = resource_groups(request.form, errors)
    desk_price = _euros(request.form, "desk_price_day", errors)
    if desk_price:
        groups[0][0]["prices"] = {"day": desk_price}
    if errors:
        return _render_location_form(None, errors=errors, values=values), 400
    try:
        location = setup.create_location_with_resources(
            db, current_user, values, groups
        )
    except InvalidInput as error:
        errors = {error.field or "form": [error.message]}
        return _render_location_form(None, errors=errors, values=values), 400
    kinds = Counter(r.kind for r in location.resources)
    made = [
        text
        for count, text in (
            (
                kinds[ResourceKind.DESK],
                ngettext("%(num)d desk", "%(num)d desks", kinds[ResourceKind.DESK]),
            ),
            (
                kinds[ResourceKind.ROOM],
                ngettext(
                    "%(num)d meeting room",
                    "%(num)d meeting rooms",
                    kinds[ResourceKind.ROOM],
                ),
            ),
            (
                kinds[ResourceKind.FLEX],
                ngettext(
                    "%(num)d flex area", "%(num)d flex areas", kinds[ResourceKind.FLEX]
                ),
            ),
        )
        if count
    ]
    flash(
        gettext("Location created: %(made)s.", made=", ".join(made))
        if made
        else gettext("Location created."),
        "success",
    )
    return redirect(url_for("spaces.edit_location", location_id=location.id), 303)


@bp.route("/locations/<int:location_id>", methods=["GET", "POST"])
@operator_required
def edit_location(location_id: int):
    db = get_db()
    location = services.get_managed_location(db, current_user, location_id)
    if request.method == "POST":
        operators = None
        if current_user.is_admin and "operators" in request.form:
            operators = [
                e
                for e in request.form["operators"].replace(";", ",").split(",")
                if e.strip()
            ]
        errors: dict = {}
        values = location_values(request.form, errors)
        for field, messages in services.location_errors(values, creating=False).items():
            errors.setdefault(field, []).extend(messages)
        if errors:
            return _render_location_form(location, errors=errors), 400
        try:
            services.update_location(
                db, current_user, location_id, values, operators=operators
            )
        except InvalidInput as error:
            return _render_location_form(location, error), 400
        flash(gettext("Saved."), "success")
        return redirect(url_for("spaces.edit_location", location_id=location_id), 303)
    return _render_location_form(location)


def _render_location_form(
    location: Location | None,
    error: InvalidInput | None = None,
    *,
    errors: dict | None = None,
    values: dict | None = None,
    typed: bool = True,
):
    """The location form; ``typed``: filled with what this request sent."""
    form = request.form if request.method == "POST" and typed else None
    if values and form is not None:
        # What the person typed, with the suggested short name filled in.
        form = form.copy()
        form["slug"] = values.get("slug", "")
    errors = dict(errors or {})
    if error is not None:
        errors.setdefault(error.field or "form", []).append(error.message)
    hours = location.opening_hours if location else default_opening_hours()
    closures = []
    if location is not None:
        today = utcnow().astimezone(ZoneInfo(location.timezone)).date()
        closures = services.closures_between(
            get_db(), location.id, today, today.replace(year=today.year + 5)
        )
    return render_template(
        "operator/location_form.html",
        location=location,
        form=form,
        hours=hours,
        errors=errors,
        closures=closures,
    )


def _back_to(location_id: int, section: str):
    """Back to a section of the location page; ``at`` has its messages shown
    there, next to the form just sent, not at the top out of sight."""
    return redirect(
        url_for("spaces.edit_location", location_id=location_id, at=section)
        + f"#{section}",
        303,
    )


def _back_to_resources(location_id: int):
    return _back_to(location_id, "resources")


def _flash_errors(errors: dict) -> None:
    for messages in errors.values():
        for message in messages:
            flash(str(message), "error")


@bp.post("/locations/<int:location_id>/resources")
@operator_required
def add_resource(location_id: int):
    """One resource, or several alike by count ("Desk 1" ... "Desk 5")."""
    db = get_db()
    services.get_managed_location(db, current_user, location_id)
    values = resource_values(request.form, creating=True)
    errors: dict = {}
    if values["kind"] in {k.value for k in ResourceKind}:
        values["prices"] = _price_values(request.form, values["kind"], errors)
    count_text = (request.form.get("count") or "1").strip()
    if errors:
        _flash_errors(errors)
        return _back_to_resources(location_id)
    try:
        if count_text != "1":
            count = (
                int(count_text) if count_text.isascii() and count_text.isdigit() else 0
            )
            created = setup.create_resources(
                db, current_user, location_id, values, count
            )
            flash(gettext("%(n)d added.", n=len(created)), "success")
        else:
            services.create_resource(db, current_user, location_id, values)
            flash(gettext("Added."), "success")
    except InvalidInput as error:
        flash(str(error.message), "error")
    return _back_to_resources(location_id)


@bp.post("/resources/<int:resource_id>")
@operator_required
def edit_resource(resource_id: int):
    db = get_db()
    resource = services.get_resource(db, resource_id)
    services.get_managed_location(db, current_user, resource.location_id)
    values = resource_values(request.form, creating=False)
    errors: dict = {}
    if any(f in request.form for f in ("price_day", "price_half_day", "price_hour")):
        values["prices"] = _price_values(request.form, resource.kind, errors)
    if errors:
        _flash_errors(errors)
        return _back_to_resources(resource.location_id)
    try:
        services.update_resource(db, current_user, resource_id, values)
        flash(gettext("Saved."), "success")
    except InvalidInput as error:
        flash(str(error.message), "error")
    return _back_to_resources(resource.location_id)


@bp.post("/locations/<int:location_id>/desk-prices")
@operator_required
def desk_prices(location_id: int):
    """One price for every desk and flex area of the location."""
    db = get_db()
    services.get_managed_location(db, current_user, location_id)
    errors: dict = {}
    prices = _price_values(request.form, ResourceKind.DESK, errors)
    if errors:
        _flash_errors(errors)
        return _back_to_resources(location_id)
    try:
        changed = setup.set_prices_of_kind(
            db, current_user, location_id, ResourceKind.DESK, prices
        )
        flash(gettext("Prices of %(n)d desks saved.", n=len(changed)), "success")
    except InvalidInput as error:
        flash(str(error.message), "error")
    return _back_to_resources(location_id)


@bp.post("/locations/<int:location_id>/closures")
@operator_required
def add_closure(location_id: int):
    """Close days; when members booked them, show those bookings first and
    cancel them only once the operator confirms."""
    db = get_db()
    location = services.get_managed_location(db, current_user, location_id)
    try:
        starts_on = parse_date(request.form.get("starts_on"))
        ends_on = parse_date(
            request.form.get("ends_on") or request.form.get("starts_on")
        )
        resource_id = request.form.get("resource_id")
        resource_id = parse_id(resource_id, "resource_id") if resource_id else None
        reason = request.form.get("reason", "")
        if "confirm" not in request.form and ends_on >= starts_on:
            covered = booking_closures.covered_bookings(
                db, location.id, starts_on, ends_on, resource_id, now=utcnow()
            )
            if covered:
                return render_template(
                    "operator/closure_confirm.html",
                    location=location,
                    resource=services.get_resource(db, resource_id)
                    if resource_id
                    else None,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    reason=reason,
                    bookings=covered,
                    back=local_path(request.form.get("back"), ""),
                )
        closure = services.add_closure(
            db,
            current_user,
            location_id,
            starts_on=starts_on,
            ends_on=ends_on,
            resource_id=resource_id,
            reason=reason,
        )
    except InvalidInput as error:
        flash(str(error.message), "error")
        # The location's own values: this request's form is the closure's.
        return _render_location_form(location, typed=False), 400
    cancelled = len(closure.cancelled_booking_ids)
    if cancelled:
        flash(
            ngettext(
                "Closed. %(num)d booking was cancelled; the member has been told "
                "by e-mail.",
                "Closed. %(num)d bookings were cancelled; the members have been "
                "told by e-mail.",
                cancelled,
            ),
            "success",
        )
    else:
        flash(gettext("Closure added."), "success")
    # Closed from the day view: back there, to the day now closed.
    back = local_path(request.form.get("back"), "")
    if back:
        return redirect(back, 303)
    return _back_to(location_id, "closures")


@bp.post("/closures/<int:closure_id>/delete")
@operator_required
def delete_closure(closure_id: int):
    db = get_db()
    from .models import Closure

    closure = db.get(Closure, closure_id)
    location_id = closure.location_id if closure else None
    services.delete_closure(db, current_user, closure_id)
    flash(gettext("Closure removed."), "success")
    return _back_to(location_id, "closures")


@bp.get("/locations/<int:location_id>/day")
@operator_required
def day(location_id: int):
    """The day's bookings: who checked in, the day before and after, and a
    free desk offered when booking for someone."""
    db = get_db()
    location = services.get_managed_location(db, current_user, location_id)
    today = utcnow().astimezone(ZoneInfo(location.timezone)).date()
    try:
        day = parse_date(request.args["date"]) if request.args.get("date") else today
    except InvalidInput:
        day = today
    availability = booking_queries.location_day(db, location, day)
    desks = [
        entry for entry in availability.resources if entry.resource.kind in DAY_KINDS
    ]
    free_desks = [
        entry for entry in desks if not entry.closed and any(entry.parts.values())
    ]
    now = utcnow()
    # Nothing is offered any more (no part of the day left to book): the day
    # is over, which is not "no desk free".
    day_over = bool(desks) and not any(entry.parts for entry in desks)
    return render_template(
        "operator/day.html",
        day_over=day_over,
        typed=typed_form(),
        regulars=booking_queries.regulars(db, location),
        can_cancel=lambda booking: booking_services.can_cancel(
            booking, now=now, is_operator=True
        ),
        location=location,
        day=day,
        today=today,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        bookings=booking_queries.day_bookings(db, location, day),
        availability=availability,
        is_closed=not availability.plan.is_open
        or availability.closed_reason is not None,
        desks=desks,
        free_desks=free_desks,
    )


@bp.route("/network", methods=["GET", "POST"])
@admin_required
def network_settings():
    db = get_db()
    if request.method == "POST":
        try:
            services.update_network(db, current_user, request.form.to_dict())
        except DomainError as error:
            flash(str(error.message), "error")
            return render_template("operator/network.html", form=request.form), 400
        flash(gettext("Saved."), "success")
        return redirect(url_for("spaces.network_settings"), 303)
    return render_template("operator/network.html", form=None)
