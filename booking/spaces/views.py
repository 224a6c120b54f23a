"""The operator console: locations, resources, closures, the day's bookings."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from ..bookings import queries as booking_queries
from ..bookings.rules import parse_date
from ..db import get_db, utcnow
from ..errors import DomainError, InvalidInput
from ..security import admin_required, operator_required
from ..validation import parse_id
from . import services
from .forms import hours_field, location_values, resource_values
from .hours import default_opening_hours
from .models import Location, OperatorModel, ResourceKind

bp = Blueprint("spaces", __name__, url_prefix="/manage")


@bp.app_context_processor
def _helpers():
    return {
        "hours_field": hours_field,
        "operator_models": list(OperatorModel),
        "resource_kinds": list(ResourceKind),
    }


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
    if request.method == "POST":
        try:
            values = location_values(request.form)
            location = services.create_location(get_db(), current_user, values)
        except InvalidInput as error:
            return _render_location_form(None, error), 400
        flash(gettext("Location created."), "success")
        return redirect(url_for("spaces.edit_location", location_id=location.id), 303)
    return _render_location_form(None)


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
        try:
            services.update_location(
                db,
                current_user,
                location_id,
                location_values(request.form),
                operators=operators,
            )
        except InvalidInput as error:
            return _render_location_form(location, error), 400
        flash(gettext("Saved."), "success")
        return redirect(url_for("spaces.edit_location", location_id=location_id), 303)
    return _render_location_form(location)


def _render_location_form(location: Location | None, error: InvalidInput | None = None):
    form = request.form if request.method == "POST" else None
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
        error=error,
        closures=closures,
    )


@bp.post("/locations/<int:location_id>/resources")
@operator_required
def add_resource(location_id: int):
    try:
        services.create_resource(
            get_db(),
            current_user,
            location_id,
            resource_values(request.form, creating=True),
        )
        flash(gettext("Added."), "success")
    except InvalidInput as error:
        flash(str(error.message), "error")
    return redirect(
        url_for("spaces.edit_location", location_id=location_id) + "#resources", 303
    )


@bp.post("/resources/<int:resource_id>")
@operator_required
def edit_resource(resource_id: int):
    db = get_db()
    resource = services.get_resource(db, resource_id)
    try:
        services.update_resource(
            db, current_user, resource_id, resource_values(request.form, creating=False)
        )
        flash(gettext("Saved."), "success")
    except InvalidInput as error:
        flash(str(error.message), "error")
    return redirect(
        url_for("spaces.edit_location", location_id=resource.location_id)
        + "#resources",
        303,
    )


@bp.post("/locations/<int:location_id>/closures")
@operator_required
def add_closure(location_id: int):
    try:
        starts_on = parse_date(request.form.get("starts_on"))
        ends_on = parse_date(
            request.form.get("ends_on") or request.form.get("starts_on")
        )
        resource_id = request.form.get("resource_id")
        services.add_closure(
            get_db(),
            current_user,
            location_id,
            starts_on=starts_on,
            ends_on=ends_on,
            resource_id=parse_id(resource_id, "resource_id") if resource_id else None,
            reason=request.form.get("reason", ""),
        )
        flash(gettext("Closure added."), "success")
    except InvalidInput as error:
        flash(str(error.message), "error")
        location = services.get_managed_location(get_db(), current_user, location_id)
        return _render_location_form(location), 400
    return redirect(
        url_for("spaces.edit_location", location_id=location_id) + "#closures", 303
    )


@bp.post("/closures/<int:closure_id>/delete")
@operator_required
def delete_closure(closure_id: int):
    db = get_db()
    from .models import Closure

    closure = db.get(Closure, closure_id)
    location_id = closure.location_id if closure else None
    services.delete_closure(db, current_user, closure_id)
    flash(gettext("Closure removed."), "success")
    return redirect(
        url_for("spaces.edit_location", location_id=location_id) + "#closures", 303
    )


@bp.get("/locations/<int:location_id>/day")
@operator_required
def day(location_id: int):
    db = get_db()
    location = services.get_managed_location(db, current_user, location_id)
    today = utcnow().astimezone(ZoneInfo(location.timezone)).date()
    try:
        day = parse_date(request.args["date"]) if request.args.get("date") else today
    except InvalidInput:
        day = today
    return render_template(
        "operator/day.html",
        location=location,
        day=day,
        bookings=booking_queries.day_bookings(db, location, day),
        availability=booking_queries.location_day(db, location, day),
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
