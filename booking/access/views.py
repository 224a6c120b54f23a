"""Door pages: "Open door" buttons, the operator's doors, device page and log."""

from __future__ import annotations

import time

import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from markupsafe import Markup

from ..csv_export import csv_response
from ..db import get_db
from ..errors import DomainError, InvalidInput
from ..extensions import limiter
from ..security import local_path, operator_required
from ..spaces.services import (
    get_managed_location,
    list_locations,
    managed_location_ids,
)
from . import audit, labels, pairing, reports, rules, services
from .link import get_link
from .models import Channel, DoorKind, Result

bp = Blueprint("access", __name__)


# --- the per-user unlock limit (pages and API share one budget) ---------------


def _unlock_key() -> str:
    if current_user.is_authenticated:
        return f"unlock-user:{current_user.id}"
    return f"unlock-address:{get_remote_address()}"


def _on_unlock_breach(_limit) -> None:
    door_id = (request.view_args or {}).get("door_id")
    if door_id is not None:
        user = current_user if current_user.is_authenticated else None
        services.record_rate_limited(get_db(), user, int(door_id))


unlock_limit = limiter.shared_limit(
    lambda: current_app.config.get("UNLOCK_RATE_LIMIT", "6/minute"),
    scope="door-unlock",
    key_func=_unlock_key,
    on_breach=_on_unlock_breach,
)


@bp.before_app_request
def _start_link() -> None:
    # Each process (gunicorn worker) connects on its first request, so door
    # state and events are stored even before anyone unlocks.
    get_link(current_app._get_current_object())


def door_pins(booking):
    """The PINs of a booking's doors, for its holder: the mails show them."""
    # A batch of mails asks once a minute per location whether it has doors at
    # all, so mails of door-less locations cost no statements (mail cost budget).
    known = g.setdefault("locations_with_doors", {})
    checked = known.get(booking.location_id)
    if checked is None or checked[0] < time.monotonic() - 60:
        doors = services.doors_of(get_db(), booking.location_id, active_only=True)
        checked = known[booking.location_id] = (time.monotonic(), bool(doors))
    if not checked[1]:
        return []
    return [
        d for d in services.doors_for_booking(get_db(), booking.user, booking) if d.pin
    ]


@bp.record_once
def _mail_helpers(state) -> None:
    # A Jinja global, not a context processor: mails render straight from the
    # environment (notifications.services), without the pages' processors.
    state.app.jinja_env.globals["door_pins"] = door_pins


@bp.app_context_processor
def _door_helpers():
    def booking_doors(booking):
        if not current_user.is_authenticated:
            return []
        return services.doors_for_booking(get_db(), current_user, booking)

    def location_doors(location):
        user = current_user if current_user.is_authenticated else None
        return services.doors_for_location(get_db(), user, location.id)

    def door_opens_at(booking):
        """When this booking's doors open ("from 07:30" on My bookings)."""
        return rules.access_window(
            booking.starts_at, booking.ends_at, services.access_margin()
        )[0]

    def door_alerts():
        if not (current_user.is_authenticated and current_user.is_operator):
            return []
        return reports.open_alerts(get_db(), current_user)

    return {
        "booking_doors": booking_doors,
        "door_opens_at": door_opens_at,
        "location_doors": location_doors,
        "door_alerts": door_alerts,
        "alert_text": reports.alert_text,
        "channel_label": labels.channel_label,
        "result_label": labels.result_label,
        "outcome_label": labels.outcome_label,
        "reason_label": labels.reason_label,
    }


def _back(default: str) -> str:
    return local_path(request.form.get("back"), default)


# --- "Open door" -------------------------------------------------------------


@bp.post("/doors/<int:door_id>/open")
@login_required
@unlock_limit
def open_door(door_id: int):
    back = _back(url_for("bookings.mine"))
    try:
        result = services.unlock_door(get_db(), current_user, door_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(back, 303)
    flash(gettext("%(door)s is open. Come in!", door=result.door.name), "success")
    return redirect(back, 303)


# --- operator console --------------------------------------------------------


@bp.get("/manage/locations/<int:location_id>/doors")
@operator_required
def doors(location_id: int):
    db = get_db()
    location = get_managed_location(db, current_user, location_id)
    return render_template(
        "access/doors.html",
        location=location,
        doors=services.doors_of(db, location.id),
        alerts=reports.open_alerts(db, current_user, location.id),
        kinds=list(DoorKind),
        form={},
        error=None,
    )


def _door_form_values() -> dict:
    values = {
        "name": request.form.get("name", ""),
        "kind": request.form.get("kind", "landdesk"),
        "device_id": request.form.get("device_id", ""),
        "open_s": request.form.get("open_s", "5"),
        "resource_ids": request.form.getlist("resource_ids"),
    }
    if "active_field" in request.form:
        values["is_active"] = bool(request.form.get("is_active"))
    return values


@bp.post("/manage/locations/<int:location_id>/doors")
@operator_required
def create_door(location_id: int):
    db = get_db()
    location = get_managed_location(db, current_user, location_id)
    try:
        door, secret = services.create_door(
            db, current_user, location_id, _door_form_values()
        )
    except InvalidInput as error:
        db.rollback()
        return render_template(
            "access/doors.html",
            location=location,
            doors=services.doors_of(db, location.id),
            alerts=reports.open_alerts(db, current_user, location.id),
            kinds=list(DoorKind),
            form=request.form,
            error=error,
        ), 400
    flash(gettext("Door added."), "success")
    if door.kind != DoorKind.LANDDESK:
        return redirect(url_for("access.door", door_id=door.id) + "#setup", 303)
    return _pairing_page(*pairing.start_pairing(db, current_user, door.id))


def _pairing_page(door, code: str, expires_at):
    """The pairing code, its QR code and the one command: shown once, in
    this response only (never in a redirect or the session)."""
    service = current_app.config["PUBLIC_URL"].rstrip("/")
    shown = pairing.format_code(code)
    command = f"python -m devices.controller --pair {service} {shown}"
    qr = segno.make(command, error="m")
    response = Response(
        render_template(
            "access/pairing.html",
            door=door,
            code=shown,
            command=command,
            expires_at=expires_at,
            qr_svg=Markup(
                qr.svg_inline(scale=4, border=2, dark="#1d2521", omitsize=True)
            ),
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/manage/doors/<int:door_id>")
@operator_required
def door(door_id: int):
    db = get_db()
    door = services.get_managed_door(db, current_user, door_id)
    recent = audit.access_log(
        db, current_user, audit.LogFilter(door_id=door.id), limit=30
    )
    return render_template(
        "access/door.html",
        door=door,
        recent=recent,
        alerts=reports.open_alerts(db, current_user, door.location_id),
        error=None,
    )


@bp.post("/manage/doors/<int:door_id>")
@operator_required
def update_door(door_id: int):
    db = get_db()
    try:
        services.update_door(db, current_user, door_id, _door_form_values())
    except InvalidInput as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("Saved."), "success")
    return redirect(url_for("access.door", door_id=door_id), 303)


@bp.get("/manage/doors/<int:door_id>/unlock")
@operator_required
def remote_unlock_confirm(door_id: int):
    """Opening a building from afar takes a second tap: a mis-tap on a phone
    must not open a door for whoever stands there."""
    door = services.get_managed_door(get_db(), current_user, door_id)
    back = local_path(request.args.get("back"), url_for("access.door", door_id=door_id))
    return render_template("access/remote_confirm.html", door=door, back=back)


@bp.post("/manage/doors/<int:door_id>/unlock")
@operator_required
@unlock_limit
def remote_unlock(door_id: int):
    back = _back(url_for("access.door", door_id=door_id))
    if request.form.get("confirmed") != "1":
        # Not from the confirm step: ask there first, open nothing.
        return redirect(
            url_for("access.remote_unlock_confirm", door_id=door_id, back=back), 303
        )
    try:
        result = services.unlock_door(get_db(), current_user, door_id, remote=True)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(str(error.message), "error")
        return redirect(back, 303)
    flash(gettext("%(door)s is open.", door=result.door.name), "success")
    return redirect(back, 303)


@bp.post("/manage/doors/<int:door_id>/pairing")
@operator_required
def pair_door(door_id: int):
    """A new pairing code: the door module fetches its settings with it."""
    return _pairing_page(*pairing.start_pairing(get_db(), current_user, door_id))


@bp.post("/manage/doors/<int:door_id>/device-login")
@operator_required
def device_login(door_id: int):
    """The settings to type into a Shelly, Tasmota or Nuki device's own app."""
    db = get_db()
    try:
        door, login = pairing.vendor_login(db, current_user, door_id)
    except InvalidInput as error:
        flash(str(error.message), "error")
        return redirect(url_for("access.door", door_id=door_id), 303)
    response = Response(
        render_template("access/device_login.html", door=door, login=login)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/manage/alerts/<int:alert_id>/resolve")
@operator_required
def resolve_alert(alert_id: int):
    reports.resolve_alert(get_db(), current_user, alert_id)
    flash(gettext("Alert marked as handled."), "success")
    return redirect(_back(url_for("spaces.console")), 303)


@bp.get("/manage/access-log")
@operator_required
def access_log():
    db = get_db()
    args = request.args.to_dict()
    try:
        filters = audit.log_filter(args)
        rows = audit.access_log(db, current_user, filters, limit=5000)
    except InvalidInput as error:
        flash(str(error.message), "error")
        filters, rows = audit.LogFilter(), []
    if request.args.get("format") == "csv":
        return csv_response(audit.access_log_csv(rows), "landdesk-access-log.csv")
    ids = managed_location_ids(db, current_user)
    locations = [
        loc
        for loc in list_locations(db, include_inactive=True)
        if ids is None or loc.id in ids
    ]
    return render_template(
        "access/log.html",
        rows=rows[:500],
        total=len(rows),
        filtered=any(value for key, value in args.items() if key != "format"),
        filters=filters,
        args=args,
        locations=locations,
        channels=list(Channel),
        results=list(Result),
    )
