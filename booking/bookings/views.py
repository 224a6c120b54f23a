"""A coworker's bookings: book from the location page, list, cancel."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from ..db import get_db, utcnow
from ..errors import DomainError, InvalidInput
from ..i18n import euro_amount, localdate
from ..security import local_path
from ..spaces.hours import local_date
from ..spaces.services import can_manage, get_resource, list_locations
from ..validation import MAX_ID, keep_typed, parse_id, parse_int, typed_form
from . import queries, series, services
from .models import DayPart
from .rules import parse_date, parse_instant

bp = Blueprint("bookings", __name__)


@bp.app_context_processor
def _quotes() -> dict:
    def quoter_for(location):
        """What each option costs the person looking (passes.services.quotes)."""
        from ..passes.services.quotes import Quoter

        return Quoter(get_db(), current_user, location.id)

    return {"quoter_for": quoter_for}


def _choice(db, args):
    """The desk or room, day, part and room hours a confirm-step URL names:
    (resource, day, part, starts_at, ends_at). Raises NotFound, InvalidInput."""
    resource_id = args.get("resource_id", type=int) or 0
    # Out of the id range (a URL typed or forged): not found, not a DB error.
    resource = get_resource(db, resource_id if 0 < resource_id <= MAX_ID else 0)
    start = args.get("start", "")
    duration = args.get("duration", "")
    starts_at = ends_at = None
    if start and duration.isdigit():  # a room: its day is the start's local day
        starts_at = parse_instant(start, "start")
        ends_at = starts_at + timedelta(minutes=int(duration))
        day = local_date(starts_at, resource.location.timezone)
    else:
        day = parse_date(args.get("date", ""))
    part = args.get("part") or "full"
    return (
        resource,
        day,
        part if part in ("full", "am", "pm") else "full",
        starts_at,
        ends_at,
    )


@bp.app_context_processor
def _kept_choice() -> dict:
    def kept_choice(next_url: str | None):
        """What a visitor chose before logging in or registering (the confirm
        step in ``next``), for those pages to name it; None if nothing is."""
        step = url_for("bookings.confirm")
        if not next_url or not next_url.startswith(step + "?"):
            return None
        args = MultiDict(parse_qsl(urlsplit(next_url).query))
        try:
            resource, day, part, starts_at, ends_at = _choice(get_db(), args)
        except DomainError:
            return None
        return {
            "resource": resource,
            "location": resource.location,
            "day": day,
            "part": part,
            "starts_at": starts_at,
            "ends_at": ends_at,
        }

    return {"kept_choice": kept_choice}


@bp.post("/bookings")
@login_required
def create():
    db = get_db()
    form = request.form.to_dict()
    back = local_path(request.form.get("back"), url_for("network.index"))
    values = {k: form.get(k) for k in ("resource_id", "date", "part", "start", "end")}
    if form.get("duration") and form.get("start"):
        values["end"] = _end_from_duration(form["start"], form["duration"])
    if form.get("guest_name") or form.get("guest_email"):
        values["guest"] = {
            "name": form.get("guest_name", ""),
            "email": form.get("guest_email", ""),
        }
    holder_id = None
    try:
        # The operator's "book for a member" form: an empty address must not
        # book the desk for the operator.
        if form.get("for_someone") and not (
            form.get("member_email", "").strip() or values.get("guest")
        ):
            raise InvalidInput(
                _l(
                    "Enter the member's e-mail address, or the guest's name and "
                    "e-mail address."
                ),
                field="member",
            )
        if form.get("member_email"):
            holder_id = services.booking_holder_for_email(
                db, current_user, form["member_email"], form.get("resource_id")
            )
        if form.get("repeat") in ("daily", "weekly") and values.get("date"):
            return _create_series(db, form, values, holder_id)
        booking_request = services.BookingRequest.from_values(
            values, holder_id=holder_id
        )
        booking = services.create_booking(db, current_user, booking_request)
    except DomainError as error:
        flash(str(error.message), "error")
        step = local_path(form.get("step"), "")
        if step.startswith(url_for("bookings.confirm") + "?"):
            # Refused on the confirm step: back to it, with what was typed.
            keep_typed(form, CONFIRM_STEP_FIELDS)
            return redirect(step, 303)
        if form.get("for_someone"):
            # The operator's day view: back to its form, with what was typed
            # and the message beside it.
            keep_typed(form, FOR_SOMEONE_FIELDS)
            joiner = "&" if "?" in back else "?"
            return redirect(f"{back}{joiner}at=book#book", 303)
        return redirect(back), 303
    # Billing sits above bookings: asked here, when a booking is placed.
    from ..billing.services import order_for_booking, walk_in_guest

    if booking.status == "pending_payment":
        order = order_for_booking(db, booking.id)
        return redirect(url_for("billing.order", order_id=order.id), 303)
    # As My bookings writes it: "Mi., 16.12.2026".
    day = (
        f"{localdate(booking.booked_on, fmt='EEE')}, "
        f"{localdate(booking.booked_on, fmt='medium')}"
    )
    if booking.guest_name and walk_in_guest(db, booking):
        # The operator's walk-in guest (billing's rule): what to collect at
        # the counter.
        message = gettext(
            "Booked for the guest %(guest)s: %(name)s on %(day)s. They get the "
            "confirmation by e-mail.",
            guest=booking.guest_name,
            name=booking.resource.name,
            day=day,
        )
        if booking.settled_by == "payment":
            order = order_for_booking(db, booking.id)
            if order is not None and order.payment_method == "on_site":
                message += " " + gettext(
                    "To be paid on site: %(amount)s.",
                    amount=euro_amount(order.amount_cents, order.currency),
                )
        flash(message, "success")
    elif booking.guest_name:
        flash(
            gettext(
                "Booked: %(name)s on %(day)s for your guest %(guest)s. They get "
                "the confirmation by e-mail.",
                name=booking.resource.name,
                day=day,
                guest=booking.guest_name,
            ),
            "success",
        )
    elif holder_id is not None and holder_id != current_user.id:
        flash(
            gettext(
                "Booked for %(person)s: %(name)s on %(day)s.",
                person=booking.user.name or booking.user.email,
                name=booking.resource.name,
                day=day,
            ),
            "success",
        )
    else:
        # Not the location's name: loading it cost a query per booking, and
        # My bookings, where this leads, names it.
        flash(
            gettext(
                "Booked: %(name)s on %(day)s.", name=booking.resource.name, day=day
            ),
            "success",
        )
    # For someone else, or from an operator's page (a guest booked from the
    # day view): back there; one's own booking: My bookings.
    to_back = holder_id is not None or back.startswith("/manage/")
    return redirect(back if to_back else url_for("bookings.mine"), 303)


# What the confirm step's and the day view's forms show again when refused.
CONFIRM_STEP_FIELDS = ("repeat", "count", "guest_name", "guest_email")
FOR_SOMEONE_FIELDS = (
    "member_email",
    "guest_name",
    "guest_email",
    "resource_id",
    "part",
)

# The outcome of the last series, kept for its result page (below).
_SERIES_OUTCOME = "series_outcome"


def _create_series(db, form: dict, values: dict, holder_id: int | None):
    """Several days from the confirm step: a run of days or the same weekday
    for some weeks. Redirects to the page that says per day what was booked:
    reloading it shows the outcome again rather than sending the days once
    more (every one of them then refused as already booked)."""
    first = parse_date(values["date"])
    count = parse_int(
        form.get("count"),
        "count",
        low=1,
        high=31,
        message=_l("Enter how many days or weeks (1 to 31)."),
    )
    if form["repeat"] == "weekly":
        days = series.weekly_days(first, count)
    else:
        resource = get_resource(db, parse_id(values.get("resource_id"), "resource_id"))
        days = series.run_of_days(first, count, resource.location.opening_hours)
    requests = services.BookingRequest.series_from_values(
        {**values, "date": None, "dates": [d.isoformat() for d in days]},
        holder_id=holder_id,
    )
    outcome = series.create_bookings(db, current_user, requests)
    session[_SERIES_OUTCOME] = {
        "resource_id": requests[0].resource_id,
        "booked": [booking.id for booking in outcome.booked],
        "refused": [
            [refusal.day.isoformat(), refusal.error, refusal.message]
            for refusal in outcome.refused
        ],
    }
    return redirect(url_for("bookings.series_result"), 303)


@bp.get("/bookings/series")
@login_required
def series_result():
    """What the last series booked and refused, per day (see _create_series)."""
    kept = session.get(_SERIES_OUTCOME)
    if not kept:
        return redirect(url_for("bookings.mine"))
    db = get_db()
    outcome = series.SeriesOutcome(
        booked=queries.bookings_made_by(db, current_user, kept["booked"]),
        refused=[
            series.Refusal(date.fromisoformat(day), error, message)
            for day, error, message in kept["refused"]
        ],
    )
    resource = get_resource(db, kept["resource_id"])
    return render_template(
        "bookings/series.html",
        outcome=outcome,
        resource=resource,
        location=resource.location,
        orders=_orders_of(db, outcome.booked),
    )


def _orders_of(db, bookings) -> dict:
    """The order to pay for each booking held for payment."""
    held = [b for b in bookings if b.status == "pending_payment"]
    if not held:
        return {}
    from ..billing.services import order_for_booking

    return {b.id: order_for_booking(db, b.id) for b in held}


@bp.get("/bookings/new")
@login_required
def confirm():
    """The confirm step a visitor lands on after logging in or registering.

    The location page sends visitors here (a GET that survives the login
    redirect in ``next``), so the desk, day and part they chose are kept.
    """
    db = get_db()
    resource, day, part, starts_at, ends_at = _choice(db, request.args)
    start = request.args.get("start", "")
    duration = request.args.get("duration", "")
    now = utcnow()
    availability = queries.location_day(db, resource.location, day, now=now)
    entry = next(
        (e for e in availability.resources if e.resource.id == resource.id), None
    )
    # A day that is over or closed says so, rather than "no longer free"
    # (an old link, a choice kept across a login the next day).
    plan = availability.plan
    over = plan.is_open and plan.windows[-1][1] <= now
    # Taken by this person already (a second tap, a link opened twice): say
    # so, rather than "no longer free".
    already = None
    if not starts_at:
        already = next(
            (
                b
                for b in services.bookings_of(db, current_user, upcoming=True)
                if b.is_active
                and not b.is_for_guest
                and b.resource_id == resource.id
                and b.booked_on == day
                and (b.part == DayPart.FULL or part in ("full", b.part))
            ),
            None,
        )
    return render_template(
        "bookings/confirm.html",
        typed=typed_form(),
        already=already,
        resource=resource,
        location=resource.location,
        day=day,
        part=part,
        plan=availability.plan,
        closed_reason=availability.closed_reason,
        over=over,
        entry=entry,
        start=start,
        duration=duration,
        starts_at=starts_at,
        ends_at=ends_at,
    )


def _end_from_duration(start: str, duration: str) -> str:
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
    from ..checkin.services import waitlists_of

    db = get_db()
    now = utcnow()
    ahead = services.bookings_of(db, current_user, upcoming=True, now=now)
    # "Upcoming" lists live bookings only; cancelled ones get their own list.
    upcoming = [b for b in ahead if b.is_active]
    cancelled = [b for b in ahead if b.status == "cancelled"]
    past = services.bookings_of(db, current_user, upcoming=False, now=now, limit=50)
    managed = {
        b.location_id: can_manage(db, current_user, b.location_id) for b in upcoming
    }
    waitlists = waitlists_of(db, current_user, today=now.date())
    locations = {loc.id: loc for loc in list_locations(db, include_inactive=True)}
    # Set by the door's "back" link: the tap's answer is shown next to it.
    door_id, booking_id = (
        request.args.get("door", type=int),
        request.args.get("b", type=int),
    )
    shown = {b.id for b in upcoming}
    door_result = (door_id, booking_id) if booking_id in shown else None
    return render_template(
        "bookings/mine.html",
        upcoming=upcoming,
        cancelled=cancelled,
        # Why a day was called off, when the space closed it.
        closures=queries.closures_that_cancelled(db, cancelled),
        past=past,
        now=now,
        door_result=door_result,
        waitlists=[(entry, locations.get(entry.location_id)) for entry in waitlists],
        can_cancel=lambda b: services.can_cancel(
            b, now=now, is_operator=managed.get(b.location_id, False)
        ),
    )


@bp.get("/bookings/<int:booking_id>/cancel")
@login_required
def cancel_step(booking_id: int):
    """Asks once before cancelling; a plain page, so it works without JavaScript."""
    booking = services.get_booking_for(get_db(), current_user, booking_id)
    back = local_path(request.args.get("back"), url_for("bookings.mine"))
    return render_template("bookings/cancel.html", b=booking, back=back)


@bp.post("/bookings/<int:booking_id>/cancel")
@login_required
def cancel(booking_id: int):
    back = local_path(request.form.get("back"), url_for("bookings.mine"))
    try:
        services.cancel_booking(get_db(), current_user, booking_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(back, 303)
    flash(gettext("The booking is cancelled."), "success")
    return redirect(back, 303)
