"""Check in, waitlist, and the release time an operator sets."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from ..api import schemas
from ..api.contract import operation
from ..bookings.rules import parse_date
from ..db import get_db
from ..errors import DomainError
from ..security import local_path, operator_required
from . import services

bp = Blueprint("checkin", __name__)
api_bp = Blueprint("checkin_api", __name__, url_prefix="/api/v1")
bp.add_app_template_global(services.can_check_in, "can_check_in")


def _back(default: str) -> str:
    return local_path(request.form.get("back"), default)


@bp.post("/bookings/<int:booking_id>/check-in")
@login_required
def check_in(booking_id: int):
    try:
        services.check_in(get_db(), current_user, booking_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
    else:
        flash(gettext("You are checked in."), "success")
    return redirect(_back(url_for("bookings.mine")), 303)


@bp.post("/locations/<int:location_id>/waitlist")
@login_required
def join(location_id: int):
    try:
        day = parse_date(request.form.get("date"))
        if request.form.get("leave"):
            services.leave_waitlist(get_db(), current_user, location_id, day)
            flash(gettext("You left the waitlist."), "success")
        else:
            services.join_waitlist(get_db(), current_user, location_id, day)
            flash(
                gettext("You are on the waitlist: we e-mail you when a desk frees up."),
                "success",
            )
    except DomainError as error:
        flash(str(error.message), "error")
    return redirect(_back(url_for("network.index")), 303)


@bp.post("/manage/locations/<int:location_id>/release")
@operator_required
def set_release(location_id: int):
    try:
        services.set_release_time(
            get_db(), current_user, location_id, request.form.get("release_after")
        )
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("Saved."), "success")
    return redirect(url_for("insight.location", location_id=location_id), 303)


@api_bp.post("/bookings/<int:booking_id>/check-in")
@login_required
@operation(
    "Check in to your booking (from 30 minutes before)",
    answers={
        200: schemas.Booking,
        409: "Cancelled, or not the time to check in",
    },
)
def api_check_in(booking_id: int):
    from ..api.serialize import booking_json

    booking = services.check_in(get_db(), current_user, booking_id)
    answer = booking_json(booking)
    answer.checked_in_at = booking.checked_in_at
    return answer


@api_bp.post("/locations/<int:location_id>/waitlist")
@login_required
@operation(
    "Wait for a desk on a full day; you get an e-mail when one frees up "
    "(first to book gets it)",
    query=schemas.WaitlistQuery,
    answers={201: schemas.WaitlistEntry, 409: "Already on the waitlist"},
)
def api_join(location_id: int, query: schemas.WaitlistQuery):
    day = parse_date(query.date)
    entry = services.join_waitlist(get_db(), current_user, location_id, day)
    return schemas.WaitlistEntry(location_id=entry.location_id, date=entry.day), 201


@api_bp.delete("/locations/<int:location_id>/waitlist")
@login_required
@operation(
    "Leave the waitlist of a day",
    query=schemas.WaitlistQuery,
    answers={204: (None, "Left")},
)
def api_leave(location_id: int, query: schemas.WaitlistQuery):
    day = parse_date(query.date)
    services.leave_waitlist(get_db(), current_user, location_id, day)
