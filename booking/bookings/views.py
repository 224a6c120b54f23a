"""A coworker's bookings: book from the location page, list, cancel."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..db import get_db, utcnow
from ..errors import DomainError
from ..spaces.services import can_manage
from ..validation import parse_int
from . import services

bp = Blueprint("bookings", __name__)


@bp.post("/bookings")
@login_required
def create():
    db = get_db()
    form = request.form.to_dict()
    back = request.form.get("back") or url_for("network.index")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("network.index")
    values = {k: form.get(k) for k in ("resource_id", "date", "part", "start", "end")}
    if form.get("duration") and form.get("start"):
        values["end"] = _end_from_duration(form["start"], form["duration"])
    holder_id = None
    try:
        if form.get("member_email"):
            holder_id = services.booking_holder_for_email(
                db, current_user, form["member_email"]
            )
        booking_request = services.BookingRequest.from_values(
            values, holder_id=holder_id
        )
        booking = services.create_booking(db, current_user, booking_request)
    except DomainError as error:
        flash(str(error.message), "error")
        return redirect(back), 303
    if booking.status == "pending_payment":
        from ..billing.services import order_for_booking

        order = order_for_booking(db, booking.id)
        return redirect(url_for("billing.order", order_id=order.id), 303)
    flash(gettext("Booked: %(name)s.", name=booking.resource.name), "success")
    return redirect(url_for("bookings.mine") if holder_id is None else back, 303)


def _end_from_duration(start: str, duration: str) -> str:
    from datetime import timedelta

    from .rules import parse_instant

    minutes = parse_int(
        duration,
        "duration",
        low=1,
        high=7 * 24 * 60,
        message=_l("Choose how long you need the room."),
    )
    return (parse_instant(start, "start") + timedelta(minutes=minutes)).isoformat()


@bp.get("/bookings")
@login_required
def mine():
    db = get_db()
    now = utcnow()
    upcoming = services.bookings_of(db, current_user, upcoming=True, now=now)
    past = services.bookings_of(db, current_user, upcoming=False, now=now, limit=50)
    managed = {
        b.location_id: can_manage(db, current_user, b.location_id) for b in upcoming
    }
    return render_template(
        "bookings/mine.html",
        upcoming=upcoming,
        past=past,
        now=now,
        can_cancel=lambda b: services.can_cancel(
            b, now=now, is_operator=managed.get(b.location_id, False)
        ),
    )


@bp.post("/bookings/<int:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    back = request.form.get("back") or url_for("bookings.mine")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("bookings.mine")
    try:
        services.cancel_booking(get_db(), current_user, booking_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(back, 303)
    flash(gettext("The booking is cancelled."), "success")
    return redirect(back, 303)
