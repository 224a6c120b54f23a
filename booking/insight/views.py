"""Operator dashboards, funders' CSV exports, and the public GeoJSON."""

from __future__ import annotations

from datetime import date, time, timedelta

from babel import dates as babel_dates
from babel.numbers import get_decimal_symbol
from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required

from ..api import schemas
from ..api.contract import operation
from ..checkin.services import get_policy
from ..csv_export import csv_response
from ..db import get_db, utcnow
from ..errors import NotFound
from ..i18n import format_locale, localdate
from ..security import operator_required
from ..spaces.hours import WEEKDAYS
from ..spaces.services import get_managed_location
from ..validation import parse_id
from . import services
from .charts import bar_chart

bp = Blueprint("insight", __name__, url_prefix="/manage")
api_bp = Blueprint("insight_api", __name__, url_prefix="/api/v1")


@api_bp.get("/locations.geojson")
@operation(
    "The network's locations as a GeoJSON FeatureCollection (Point [lon, lat]; "
    "name, address, opening hours, operator model, free desks today)",
    public=True,
    media_type="application/geo+json",
    answers={200: (dict, "GeoJSON")},
)
def geojson():
    response = jsonify(services.locations_geojson(get_db()))
    response.mimetype = "application/geo+json"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@api_bp.get("/locations/<int:location_id>/insight")
@login_required
@operation(
    "Dashboard figures of a location you run, in its time zone: occupancy "
    "today, last 7 and 30 days (0..1), by weekday (mon..sun, 8 weeks), "
    "bookings per local hour and week (8 weeks or since the location opened), "
    "no-show rate, active and new members",
    answers={200: schemas.Insight, 403: "Not one of your locations"},
)
def api_location(location_id: int):
    """The dashboard's figures, for the operators of that location only."""
    db = get_db()
    loc = get_managed_location(db, current_user, location_id)
    board = services.dashboard(db, [loc])
    return schemas.Insight(location_id=loc.id, **services.dashboard_json(board))


def _hour(hour: int) -> str:
    locale = format_locale()
    pattern = locale.datetime_skeletons["H"].pattern
    return babel_dates.format_time(time(hour), pattern, locale=locale)


def _charts(board: services.Dashboard) -> dict:
    locale = format_locale()
    day_names = babel_dates.get_day_names("abbreviated", locale=locale)
    axes = {
        "decimal": get_decimal_symbol(locale),
        "y_title": gettext("Desks booked (%)"),
    }
    return {
        "week": bar_chart(
            [localdate(d, skeleton="Md") for d, _ in board.week],
            [round(v * 100) for _, v in board.week],
            title=gettext("Desk occupancy, last 7 days"),
            max_value=100,
            unit="%",
            x_title=gettext("Day"),
            **axes,
        ),
        "month": bar_chart(
            [localdate(d, skeleton="d") for d, _ in board.month],
            [round(v * 100) for _, v in board.month],
            title=gettext("Desk occupancy, last 30 days"),
            max_value=100,
            unit="%",
            x_title=gettext("Day of the month"),
            **axes,
        ),
        "weekday": bar_chart(
            [day_names[WEEKDAYS.index(w)] for w, _ in board.by_weekday],
            [round(v * 100) for _, v in board.by_weekday],
            title=gettext("Average occupancy by weekday (8 weeks)"),
            max_value=100,
            unit="%",
            x_title=gettext("Weekday"),
            **axes,
        ),
        "hour": bar_chart(
            [_hour(h) for h, _ in board.by_hour],
            [v for _, v in board.by_hour],
            title=gettext(
                "Bookings by hour of day "
                "(weekly average of the last 8 weeks, or since opening)"
            ),
            x_title=gettext("Hour of day (local time)"),
            y_title=gettext("Bookings per week"),
            decimal=axes["decimal"],
        ),
    }


def _export_month() -> str:
    first, _ = last_complete_month(utcnow().date())
    return f"{first:%Y-%m}"


@bp.get("/insight")
@operator_required
def network():
    db = get_db()
    locations = services.visible_locations(db, current_user)
    board = services.dashboard(db, locations)
    return render_template(
        "insight/dashboard.html",
        location=None,
        locations=locations,
        board=board,
        charts=_charts(board),
        export_month=_export_month(),
    )


@bp.get("/locations/<int:location_id>/insight")
@operator_required
def location(location_id: int):
    db = get_db()
    loc = get_managed_location(db, current_user, location_id)
    board = services.dashboard(db, [loc])
    return render_template(
        "insight/dashboard.html",
        location=loc,
        locations=[loc],
        board=board,
        charts=_charts(board),
        export_month=_export_month(),
        policy=get_policy(db, loc.id),
    )


@bp.get("/insight/<kind>.csv")
@operator_required
def export(kind: str):
    db = get_db()
    if kind not in ("usage", "target-groups"):
        raise NotFound()
    default_first, default_last = last_complete_month(utcnow().date())
    first = services.parse_month(request.args.get("from"), default_first)
    last_month = services.parse_month(request.args.get("to"), default_last)
    last = (last_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    location_id = request.args.get("location_id", "")
    if location_id:
        location_id = parse_id(location_id, "location_id")
        ids = [get_managed_location(db, current_user, location_id).id]
    else:
        ids = [loc.id for loc in services.visible_locations(db, current_user)]
    if kind == "usage":
        body = services.usage_csv(db, ids, first, last)
    else:
        body = services.target_groups_csv(db, ids, first, last)
    return csv_response(body, f"landdesk-{kind}-{first:%Y-%m}-{last:%Y-%m}.csv")


def last_complete_month(today: date) -> tuple[date, date]:
    """The first day of the last month that has ended, twice (from, to): what
    a funder's monthly report asks for."""
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return first, first
