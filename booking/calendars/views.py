"""Feeds at secret URLs, the operator's calendar page, and their JSON API."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..api import schemas
from ..api.contract import operation
from ..auth.models import User
from ..bookings.services import get_booking_for
from ..db import get_db
from ..errors import DomainError, InvalidInput, NotFound
from ..security import operator_required
from ..spaces.models import HOUR_KINDS, Location
from ..spaces.services import get_managed_location, get_resource
from ..validation import is_digits, parse_id
from . import ical, services

bp = Blueprint("calendars", __name__)
api_bp = Blueprint("calendars_api", __name__, url_prefix="/api/v1")


@bp.app_template_filter("webcal")
def webcal(url: str) -> str:
    """A feed's subscribe link: phones open webcal:// in their calendar app.
    The feed URL comes from PUBLIC_URL, never from the request's Host."""
    return urlunsplit(("webcal", *urlsplit(url)[1:]))


@bp.app_context_processor
def _calendar_helpers():
    def personal_calendar_url() -> str | None:
        if not current_user.is_authenticated:
            return None
        return services.personal_feed_url(get_db(), current_user)

    return {"personal_calendar_url": personal_calendar_url}


@bp.get("/bookings/<int:booking_id>/calendar.ics")
@login_required
def booking_ics(booking_id: int):
    """One booking as a calendar file, for phones that open .ics downloads."""
    booking = get_booking_for(get_db(), current_user, booking_id)
    body = ical.member_feed([booking], name=booking.location.name)
    response = Response(body, mimetype="text/calendar")
    # In the reader's language: "Buchung-12.ics" on German pages.
    name = f"{gettext('booking')}-{booking.id}.ics"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


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
            resource_id = parse_id(
                request.form.get("resource_id", ""),
                "resource_id",
                message=_l("Choose a room."),
            )
            _source, result = services.create_import(
                db,
                current_user,
                location.id,
                resource_id=resource_id,
                name=request.form.get("name", ""),
                url=request.form.get("url"),
                data=data,
            )
        except DomainError as error:
            flash(str(error.message), "error")
            return _render_manage(db, location), error.status
        flash(_import_result_message(result), "success")
        return redirect(url_for("calendars.manage", location_id=location.id), 303)
    return _render_manage(db, location)


def _render_manage(db, location: Location):
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
    if is_digits(location_id):
        return redirect(url_for("calendars.manage", location_id=int(location_id)), 303)
    return redirect(url_for("spaces.console"), 303)


@bp.post("/manage/calendars/<int:import_id>/delete")
@operator_required
def delete(import_id: int):
    services.delete_import(get_db(), current_user, import_id)
    flash(gettext("The calendar no longer blocks the room."), "success")
    location_id = request.form.get("location_id", "")
    if is_digits(location_id):
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


def _import_json(source) -> schemas.CalendarImport:
    return schemas.CalendarImport(
        id=source.id,
        location_id=source.location_id,
        resource_id=source.resource_id,
        name=source.name,
        url=source.url,
        imported_at=source.imported_at,
    )


def _result_json(result: services.ImportResult) -> schemas.ImportResult:
    return schemas.ImportResult(
        added=result.added,
        updated=result.updated,
        removed=result.removed,
        unchanged=result.unchanged,
        conflicting_booking_ids=result.conflicts,
    )


@api_bp.post("/me/calendar/revoke")
@login_required
@operation(
    "Replace your calendar feed address (the old one stops working)",
    answers={200: schemas.CalendarUrl},
)
def api_revoke_personal_feed():
    feed = services.revoke_feed(get_db(), current_user)
    return schemas.CalendarUrl(calendar_url=services.feed_url(feed))


@api_bp.get("/resources/<int:resource_id>/calendar-imports")
@login_required
@operation(
    "External calendars blocking a room you run",
    answers={200: list[schemas.CalendarImport], 403: "Not one of your locations"},
)
def api_list_imports(resource_id: int):
    db = get_db()
    resource = get_resource(db, resource_id)
    sources = services.imports_of(db, current_user, resource.location_id)
    return [_import_json(s) for s in sources if s.resource_id == resource.id]


@api_bp.post("/resources/<int:resource_id>/calendar-imports")
@login_required
@operation(
    'Block a room from an external calendar: {"name", "url"} (an .ics address) '
    'or {"name", "ics"} (file text); recurring events are expanded',
    body=schemas.CalendarImportInput,
    answers={
        201: (
            schemas.CalendarImport,
            "Imported, with counts and conflicting bookings",
        ),
        403: "Not one of your locations",
    },
)
def api_create_import(resource_id: int, body: schemas.CalendarImportInput):
    db = get_db()
    resource = get_resource(db, resource_id)
    ics = body.ics.encode() if body.ics is not None else None
    if ics is None and not body.url:
        raise InvalidInput(_l("Give url or ics."), field="url")
    source, result = services.create_import(
        db,
        current_user,
        resource.location_id,
        resource_id=resource.id,
        name=body.name,
        url=body.url,
        data=ics,
    )
    answer = _import_json(source)
    answer.result = _result_json(result)
    return answer, 201


@api_bp.post("/resources/<int:resource_id>/calendar-imports/refresh")
@login_required
@operation(
    'Import the room\'s calendars again (URLs are fetched; {"import_id", "ics"} '
    "replaces an uploaded file); never duplicates blocks",
    body=schemas.CalendarRefreshInput,
    body_required=False,
    answers={
        200: (dict[str, schemas.ImportResult], "Results by import id"),
        403: "Not one of your locations",
    },
)
def api_refresh_imports(resource_id: int, body: schemas.CalendarRefreshInput):
    """Re-import the room's calendars; {"import_id", "ics"} replaces one file."""
    db = get_db()
    resource = get_resource(db, resource_id)
    sources = [
        s
        for s in services.imports_of(db, current_user, resource.location_id)
        if s.resource_id == resource.id
    ]
    ics = body.ics.encode() if body.ics is not None else None
    results = {}
    for source in sources:
        if ics is not None and body.import_id != source.id:
            continue
        if ics is None and not source.url:
            continue
        results[str(source.id)] = _result_json(
            services.run_import(db, current_user, source.id, ics)
        )
    if ics is not None and not results:
        raise NotFound(_l("There is no such calendar."))
    return results
