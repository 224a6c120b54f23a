"""Feeds at secret URLs, the operator's calendar page, and their JSON API."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..auth.models import User
from ..db import get_db
from ..errors import DomainError, InvalidInput, NotFound
from ..security import operator_required
from ..spaces.models import HOUR_KINDS, Location
from ..spaces.services import get_managed_location, get_resource
from . import ical, services

bp = Blueprint("calendars", __name__)
api_bp = Blueprint("calendars_api", __name__, url_prefix="/api/v1")


@bp.get("/calendar/<token>.ics")
def feed(token: str):
    db = get_db()
    calendar = services.feed_for_token(db, token)
    bookings = services.feed_bookings(db, calendar)
    if calendar.location_id is None:
        owner = db.get(User, calendar.user_id)
        body = ical.member_feed(bookings, name=owner.name or owner.email)
    else:
        location = db.get(Location, calendar.location_id)
        body = ical.location_feed(bookings, name=location.name)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="landdesk.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _import_result_message(result: services.ImportResult) -> str:
    message = gettext(
        "Calendar imported: %(added)d new, %(updated)d changed, %(removed)d removed.",
        added=result.added,
        updated=result.updated,
        removed=result.removed,
    )
    if result.conflicts:
        message += " " + gettext(
            "%(n)d existing bookings overlap the blocked times: please check them.",
            n=len(result.conflicts),
        )
    return message


@bp.route("/manage/locations/<int:location_id>/calendars", methods=["GET", "POST"])
@operator_required
def manage(location_id: int):
    db = get_db()
    location = get_managed_location(db, current_user, location_id)
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read() if upload and upload.filename else None
        try:
            resource_id = request.form.get("resource_id", "")
            if not resource_id.isdigit():
                raise InvalidInput(_l("Choose a room."), field="resource_id")
            if data is None and not request.form.get("url"):
                raise InvalidInput(
                    _l("Give the calendar's address or upload a file."), field="url"
                )
            source = services.create_import(
                db,
                current_user,
                location.id,
                resource_id=int(resource_id),
                name=request.form.get("name", ""),
                url=request.form.get("url"),
            )
            result = services.run_import(db, current_user, source.id, data)
        except DomainError as error:
            flash(str(error.message), "error")
        else:
            flash(_import_result_message(result), "success")
        return redirect(url_for("calendars.manage", location_id=location.id), 303)
    feed = services.location_feed_for(db, current_user, location.id)
    return render_template(
        "calendars/manage.html",
        location=location,
        rooms=[r for r in location.resources if r.is_active and r.kind in HOUR_KINDS],
        imports=services.imports_of(db, current_user, location.id),
        feed_url=services.feed_url(feed),
    )


@bp.post("/manage/calendars/<int:import_id>/refresh")
@operator_required
def refresh(import_id: int):
    db = get_db()
    upload = request.files.get("file")
    data = upload.read() if upload and upload.filename else None
    try:
        result = services.run_import(db, current_user, import_id, data)
    except InvalidInput as error:
        flash(str(error.message), "error")
    else:
        flash(_import_result_message(result), "success")
    location_id = request.form.get("location_id", "")
    if location_id.isdigit():
        return redirect(url_for("calendars.manage", location_id=int(location_id)), 303)
    return redirect(url_for("spaces.console"), 303)


@bp.post("/manage/calendars/<int:import_id>/delete")
@operator_required
def delete(import_id: int):
    services.delete_import(get_db(), current_user, import_id)
    flash(gettext("The calendar no longer blocks the room."), "success")
    location_id = request.form.get("location_id", "")
    if location_id.isdigit():
        return redirect(url_for("calendars.manage", location_id=int(location_id)), 303)
    return redirect(url_for("spaces.console"), 303)


@bp.post("/manage/locations/<int:location_id>/calendar-feed/revoke")
@operator_required
def revoke_location_feed(location_id: int):
    services.revoke_feed(get_db(), current_user, location_id)
    flash(
        gettext("A new feed address was made; the old one no longer works."), "success"
    )
    return redirect(url_for("calendars.manage", location_id=location_id), 303)


@bp.post("/account/calendar/revoke")
@login_required
def revoke_personal_feed():
    services.revoke_feed(get_db(), current_user)
    flash(
        gettext("A new calendar address was made; the old one no longer works."),
        "success",
    )
    return redirect(url_for("account.index") + "#calendar", 303)


# --- JSON API --------------------------------------------------------------


def _import_json(source) -> dict:
    from ..api.serialize import instant

    return {
        "id": source.id,
        "location_id": source.location_id,
        "resource_id": source.resource_id,
        "name": source.name,
        "url": source.url,
        "imported_at": instant(source.imported_at),
    }


def _result_json(result: services.ImportResult) -> dict:
    return {
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
        "unchanged": result.unchanged,
        "conflicting_booking_ids": result.conflicts,
    }


@api_bp.post("/me/calendar/revoke")
@login_required
def api_revoke_personal_feed():
    feed = services.revoke_feed(get_db(), current_user)
    return jsonify({"calendar_url": services.feed_url(feed)})


@api_bp.get("/resources/<int:resource_id>/calendar-imports")
@login_required
def api_list_imports(resource_id: int):
    db = get_db()
    resource = get_resource(db, resource_id)
    sources = services.imports_of(db, current_user, resource.location_id)
    return jsonify([_import_json(s) for s in sources if s.resource_id == resource.id])


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_l("Send a JSON object as the request body."))
    return data


def _ics_from(data: dict) -> bytes | None:
    ics = data.get("ics")
    if ics is None:
        return None
    if not isinstance(ics, str):
        raise InvalidInput(_l("ics is the calendar file as text."), field="ics")
    return ics.encode()


@api_bp.post("/resources/<int:resource_id>/calendar-imports")
@login_required
def api_create_import(resource_id: int):
    db = get_db()
    data = _json_body()
    resource = get_resource(db, resource_id)
    ics = _ics_from(data)
    if ics is None and not data.get("url"):
        raise InvalidInput(_l("Give url or ics."), field="url")
    source = services.create_import(
        db,
        current_user,
        resource.location_id,
        resource_id=resource.id,
        name=str(data.get("name") or ""),
        url=data.get("url") if isinstance(data.get("url"), str) else None,
    )
    result = services.run_import(db, current_user, source.id, ics)
    return jsonify(_import_json(source) | {"result": _result_json(result)}), 201


@api_bp.post("/resources/<int:resource_id>/calendar-imports/refresh")
@login_required
def api_refresh_imports(resource_id: int):
    """Re-import the room's calendars; {"import_id", "ics"} replaces one file."""
    db = get_db()
    data = request.get_json(silent=True) or {}
    resource = get_resource(db, resource_id)
    sources = [
        s
        for s in services.imports_of(db, current_user, resource.location_id)
        if s.resource_id == resource.id
    ]
    ics = _ics_from(data)
    results = {}
    for source in sources:
        if ics is not None and data.get("import_id") != source.id:
            continue
        if ics is None and not source.url:
            continue
        results[str(source.id)] = _result_json(
            services.run_import(db, current_user, source.id, ics)
        )
    if ics is not None and not results:
        raise NotFound(_l("There is no such calendar."))
    return jsonify(results)
