"""Public pages: the network, a location's day, legal pages, the web app files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_login import current_user

from ..bookings import queries as booking_queries
from ..bookings.rules import parse_date
from ..db import get_db, utcnow
from ..errors import InvalidInput
from ..i18n import localdate
from ..spaces import services as space_services
from ..spaces.hours import WEEKDAYS, local_date

bp = Blueprint("network", __name__)


@bp.app_context_processor
def _inject_network():
    return {"network": space_services.get_network(get_db())}


@bp.record_once
def _template_globals(state):
    # Global, because macros imported without context use it.
    state.app.jinja_env.globals["weekdays"] = WEEKDAYS


@bp.get("/")
def index():
    db = get_db()
    locations = space_services.list_locations(db)
    now = utcnow()
    free = booking_queries.free_desks_today(db, locations, now=now)
    return render_template(
        "network/index.html",
        locations=locations,
        free=free,
        today_for=lambda loc: local_date(now, loc.timezone),
    )


def _week_around(day: date, today: date, last_day: date) -> list[date]:
    """Seven days to tap, the chosen one among them (from today on, up to the
    horizon), so a day next week is one tap away from its neighbours."""
    first = max(today, min(day - timedelta(days=3), last_day - timedelta(days=6)))
    return [
        first + timedelta(days=i)
        for i in range(7)
        if first + timedelta(days=i) <= last_day
    ]


@bp.get("/l/<slug>")
def location(slug: str):
    db = get_db()
    location = space_services.get_location_by_slug(db, slug)
    now = utcnow()
    today = now.astimezone(ZoneInfo(location.timezone)).date()
    last_day = today + timedelta(days=location.horizon_days)
    # A day that cannot be shown is said so, not silently swapped for another.
    notice = None
    try:
        day = parse_date(request.args["date"]) if request.args.get("date") else today
    except InvalidInput:
        day, notice = today, gettext("That is not a date we can read; here is today.")
    if day > last_day:
        notice = gettext(
            "%(day)s is beyond the booking horizon: this space takes bookings up to"
            " %(last)s. Here is that last day.",
            day=localdate(day, fmt="medium"),
            last=localdate(last_day, fmt="medium"),
        )
        day = last_day
    elif day < today:
        notice = gettext(
            "%(day)s is over; here is today.", day=localdate(day, fmt="medium")
        )
        day = today
    availability = booking_queries.location_day(db, location, day, now=now)
    is_operator = current_user.is_authenticated and space_services.can_manage(
        db, current_user, location.id
    )
    from ..checkin import services as checkin_services

    waitlist = checkin_services.waitlist_offer(db, current_user, availability)
    from ..billing.offers import payable_plans
    from ..passes import services as passes_services

    # Only passes that can be paid here: without Stripe, not the network's.
    day_pass_plans = payable_plans(
        db,
        (
            plan
            for plan in passes_services.plans_for_sale(db, location.id)
            if plan.kind == "day_pass"
            and passes_services.day_pass_on_sale(db, plan, day, now)
        ),
    )
    strip = _week_around(day, today, last_day)
    mine = (
        booking_queries.own_bookings_on(db, current_user, location.id, day)
        if current_user.is_authenticated
        else {}
    )
    return render_template(
        "network/location.html",
        location=location,
        day=day,
        today=today,
        last_day=last_day,
        next_days=strip,
        # A week back and on, or as far as today and the horizon: whenever
        # the strip does not show them, they are one tap away.
        earlier=max(day - timedelta(days=7), today) if strip[0] > today else None,
        later=min(day + timedelta(days=7), last_day) if strip[-1] < last_day else None,
        availability=availability,
        is_operator=is_operator,
        notice=notice,
        waitlist=waitlist,
        day_pass_plans=day_pass_plans,
        mine=mine,
    )


@bp.get("/imprint")
def imprint():
    return render_template("network/legal.html", page="imprint")


@bp.get("/privacy")
def privacy():
    return render_template("network/legal.html", page="privacy")


# --- installable web app --------------------------------------------------------


@bp.get("/manifest.webmanifest")
def manifest():
    """Lets phones install the site as an app (name, icons, start page)."""
    name = space_services.get_network(get_db()).name
    body = {
        "name": name,
        "short_name": name[:12],
        "lang": str(get_locale()),
        "start_url": url_for("bookings.mine"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f7f8f6",
        "theme_color": "#1f6f4a",
        "icons": [
            {
                "src": url_for("static", filename=f"icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in (192, 512)
        ],
    }
    response = current_app.response_class(
        json.dumps(body), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the site root so its scope covers every page."""
    response = send_from_directory(current_app.static_folder, "sw.js")
    response.mimetype = "text/javascript"
    # Browsers check for a new worker on each visit; never serve a stale one.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline")
def offline():
    """What the service worker shows for a page it cannot reach (no user data)."""
    return render_template("network/offline.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
