"""Figures for operators and funders: occupancy, utilisation, members, exports.

Personal profile data (target group, home municipality, commute) leaves this
module only aggregated, and groups smaller than ``MIN_GROUP`` are not shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..bookings.models import ACTIVE_STATUSES, Booking, BookingStatus, DayPart
from ..bookings.queries import free_desks_today
from ..bookings.rules import plan_for
from ..csv_export import csv_text
from ..db import unit_of_work, utcnow
from ..errors import InvalidInput
from ..i18n import localdate
from ..spaces.hours import WEEKDAYS, local_date
from ..spaces.models import DAY_KINDS, Location, Resource, ResourceKind
from ..spaces.services import list_locations, managed_location_ids
from .models import MemberProfile, TargetGroup

MIN_GROUP = 3  # smaller groups are reported as "<3"


# --- profiles --------------------------------------------------------------


def get_profile(db: Session, user: User) -> MemberProfile | None:
    return db.get(MemberProfile, user.id)


def save_profile(db: Session, user: User, values: dict) -> MemberProfile:
    """Store the optional self-declared fields. Raises InvalidInput."""
    group = (values.get("target_group") or "").strip() or None
    if group is not None and group not in set(TargetGroup):
        raise InvalidInput(_l("Choose one of the listed groups."), field="target_group")
    municipality = (values.get("home_municipality") or "").strip()[:120] or None
    km = values.get("commute_km")
    if km in (None, ""):
        km = None
    else:
        try:
            km = int(km)
        except (TypeError, ValueError):
            raise InvalidInput(
                _l("Give the commute in whole kilometres."), field="commute_km"
            ) from None
        if not 0 <= km <= 500:
            raise InvalidInput(
                _l("The commute is between 0 and 500 km."), field="commute_km"
            )
    with unit_of_work(db):
        profile = db.get(MemberProfile, user.id)
        if profile is None:
            profile = MemberProfile(user_id=user.id)
            db.add(profile)
        profile.target_group = group
        profile.home_municipality = municipality
        profile.commute_km = km
        profile.updated_at = utcnow()
    return profile


# --- GeoJSON ---------------------------------------------------------------


def locations_geojson(db: Session, *, now: datetime | None = None) -> dict:
    """The active locations as a GeoJSON FeatureCollection (RFC 7946)."""
    locations = list_locations(db)
    free = free_desks_today(db, locations, now=now)
    public_url = current_app.config["PUBLIC_URL"]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": location.id,
                "geometry": {
                    "type": "Point",
                    "coordinates": [location.lon, location.lat],
                },
                "properties": {
                    "name": location.name,
                    "slug": location.slug,
                    "village": location.village,
                    "address": location.address,
                    "opening_hours": location.opening_hours,
                    "timezone": location.timezone,
                    "operator_model": str(location.operator_model),
                    "free_desks_today": free.get(location.id),
                    "url": f"{public_url}/l/{location.slug}",
                },
            }
            for location in locations
        ],
    }


# --- dashboard -------------------------------------------------------------


def visible_locations(db: Session, actor: User) -> list[Location]:
    ids = managed_location_ids(db, actor)
    return [
        loc
        for loc in list_locations(db, include_inactive=True)
        if ids is None or loc.id in ids
    ]


def _weight(part: str) -> float:
    return 0.5 if part in (DayPart.AM, DayPart.PM) else 1.0


@dataclass
class Dashboard:
    today: date  # the local date of most of the locations (labels)
    seats: int  # desk and flex seats
    occupancy_today: float  # share of seats booked today, 0..1
    week: list[tuple[date, float]] = field(default_factory=list)
    month: list[tuple[date, float]] = field(default_factory=list)
    by_weekday: list[tuple[str, float]] = field(default_factory=list)
    # Bookings running in each local hour, per week the location existed.
    by_hour: list[tuple[int, float]] = field(default_factory=list)
    no_show_rate: float | None = None
    checked_bookings: int = 0
    active_members: int = 0
    new_members: int = 0


WINDOW_DAYS = 56  # weekday and hour figures: the last 8 weeks


def _seats(db: Session, location_ids: list[int]) -> dict[int, int]:
    seats: dict[int, int] = defaultdict(int)
    for r in db.scalars(
        select(Resource).where(
            Resource.location_id.in_(location_ids),
            Resource.is_active,
            Resource.kind.in_(list(DAY_KINDS)),
        )
    ):
        seats[r.location_id] += r.capacity if r.kind == ResourceKind.FLEX else 1
    return seats


def dashboard(
    db: Session, locations: list[Location], *, now: datetime | None = None
) -> Dashboard:
    """Occupancy of desks (today, 7 and 30 days), utilisation by weekday and
    local hour (last 8 weeks, or since the location opened), no-show rate and
    members (last 30 days).

    Every location counts its days in its own time zone: "today" at a
    location is its local date, and "n days ago" is n days before that.
    """
    now = now or utcnow()
    ids = [loc.id for loc in locations]
    todays = {loc.id: local_date(now, loc.timezone) for loc in locations}
    today = (
        Counter(todays.values()).most_common(1)[0][0]
        if todays
        else local_date(now, "Europe/Berlin")
    )
    opened = {loc.id: local_date(loc.created_at, loc.timezone) for loc in locations}
    seats_at = _seats(db, ids) if ids else {}
    rows = (
        db.execute(
            select(Booking, Resource.kind)
            .join(Resource, Resource.id == Booking.resource_id)
            .where(
                Booking.location_id.in_(ids),
                Booking.booked_on >= min(todays.values()) - timedelta(days=WINDOW_DAYS),
                Booking.booked_on <= max(todays.values()) + timedelta(days=1),
            )
        ).all()
        if ids
        else []
    )
    by_id = {loc.id: loc for loc in locations}
    desk_days: dict[tuple[int, date], float] = defaultdict(float)
    hours: dict[int, Counter[int]] = defaultdict(Counter)
    for booking, kind in rows:
        if booking.status not in ACTIVE_STATUSES:
            continue
        loc_today = todays[booking.location_id]
        if kind in DAY_KINDS:
            desk_days[booking.location_id, booking.booked_on] += _weight(booking.part)
        if not loc_today - timedelta(days=WINDOW_DAYS) < booking.booked_on <= loc_today:
            continue
        tz = ZoneInfo(by_id[booking.location_id].timezone)
        cursor = booking.starts_at
        while cursor < booking.ends_at:
            hours[booking.location_id][cursor.astimezone(tz).hour] += 1
            cursor += timedelta(hours=1)

    def day_of(loc: Location, days_ago: int) -> date:
        return todays[loc.id] - timedelta(days=days_ago)

    def is_open(loc: Location, day: date) -> bool:
        return day >= opened[loc.id] and plan_for(loc, day).is_open

    def share(days_ago: int) -> float | None:
        """Booked share of the seats open that day; None where none was."""
        booked = open_seats = 0.0
        for loc in locations:
            day = day_of(loc, days_ago)
            if is_open(loc, day):
                open_seats += seats_at.get(loc.id, 0)
                booked += desk_days[loc.id, day]
        return round(booked / open_seats, 3) if open_seats else None

    result = Dashboard(
        today=today, seats=sum(seats_at.values()), occupancy_today=share(0) or 0.0
    )
    result.week = [
        (today - timedelta(days=n), share(n) or 0.0) for n in range(6, -1, -1)
    ]
    result.month = [
        (today - timedelta(days=n), share(n) or 0.0) for n in range(29, -1, -1)
    ]
    weekday_sum: dict[int, list[float]] = defaultdict(list)
    for n in range(WINDOW_DAYS):
        value = share(n)
        if value is not None:
            weekday_sum[(today - timedelta(days=n)).weekday()].append(value)
    result.by_weekday = [
        (WEEKDAYS[w], round(sum(v) / len(v), 3) if (v := weekday_sum.get(w)) else 0.0)
        for w in range(7)
    ]
    # Per week the location has existed in the window, not a fixed 8: a
    # location opened 10 days ago divides by 10/7 weeks.
    weeks = {
        loc.id: min(WINDOW_DAYS, (todays[loc.id] - opened[loc.id]).days + 1) / 7
        for loc in locations
    }
    result.by_hour = [
        (
            h,
            round(
                sum(
                    hours[loc.id][h] / weeks[loc.id]
                    for loc in locations
                    if weeks[loc.id] > 0
                ),
                2,
            ),
        )
        for h in range(6, 23)
    ]
    # No-shows: ended confirmed bookings of the last 30 days nobody checked in.
    month_start = {loc.id: day_of(loc, 30) for loc in locations}
    ended = [
        b
        for b, kind in rows
        if b.status == BookingStatus.CONFIRMED
        and b.ends_at <= now
        and b.booked_on >= month_start[b.location_id]
    ]
    result.checked_bookings = len(ended)
    if ended:
        missed = sum(1 for b in ended if b.checked_in_at is None)
        result.no_show_rate = round(missed / len(ended), 3)
    active = {
        b.user_id
        for b, _ in rows
        if b.status in ACTIVE_STATUSES
        and month_start[b.location_id] <= b.booked_on <= todays[b.location_id]
    }
    result.active_members = len(active)
    if ids and active:
        firsts = db.execute(
            select(Booking.user_id, func.min(Booking.booked_on))
            .where(
                Booking.user_id.in_(active),
                Booking.location_id.in_(ids),
                Booking.status.in_(ACTIVE_STATUSES),
            )
            .group_by(Booking.user_id)
        ).all()
        since = today - timedelta(days=30)
        result.new_members = sum(1 for _, first in firsts if first >= since)
    return result


def dashboard_json(board: Dashboard) -> dict:
    """The dashboard's figures for the API (weekdays as mon..sun)."""
    return {
        "today": board.today.isoformat(),
        "seats": board.seats,
        "occupancy_today": board.occupancy_today,
        "week": [{"date": d.isoformat(), "occupancy": v} for d, v in board.week],
        "month": [{"date": d.isoformat(), "occupancy": v} for d, v in board.month],
        "by_weekday": [{"weekday": w, "occupancy": v} for w, v in board.by_weekday],
        "by_hour": [{"hour": h, "bookings_per_week": v} for h, v in board.by_hour],
        "no_show_rate": board.no_show_rate,
        "checked_bookings": board.checked_bookings,
        "active_members": board.active_members,
        "new_members": board.new_members,
    }


# --- exports for funders ---------------------------------------------------


def parse_month(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise InvalidInput(_l("Months are written as YYYY-MM."), field="from") from None


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_label(month: str) -> str:
    """ "Dezember 2026" / "December 2026": a month as the reader writes it."""
    year, number = month.split("-")
    return localdate(date(int(year), int(number), 1), skeleton="yMMMM")


TARGET_GROUP_LABELS = {
    "commuter": _l("Commuter"),
    "freelancer": _l("Freelancer"),
    "employee": _l("Employee"),
    "startup": _l("Start-up"),
    "craft": _l("Craft or small manufacturer"),
    "not_given": _l("not given"),
}


def _rows_between(db: Session, ids: list[int], first: date, last: date):
    if not ids:
        return []
    return db.execute(
        select(Booking, Resource.kind, Location.name, MemberProfile)
        .join(Resource, Resource.id == Booking.resource_id)
        .join(Location, Location.id == Booking.location_id)
        .outerjoin(MemberProfile, MemberProfile.user_id == Booking.user_id)
        .where(
            Booking.location_id.in_(ids),
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.booked_on >= first,
            Booking.booked_on <= last,
        )
        .order_by(Location.name, Booking.booked_on)
    ).all()


def _small(count: int) -> str:
    return str(count) if count >= MIN_GROUP else f"<{MIN_GROUP}"


def usage_csv(db: Session, ids: list[int], first: date, last: date) -> str:
    """Per location and month: desk-days, room hours, unique users, new
    members, and commuting kilometres saved (2 × one-way km per desk-day of
    members who gave their commute)."""
    rows = _rows_between(db, ids, first, last)
    first_booking = (
        dict(
            db.execute(
                select(Booking.user_id, func.min(Booking.booked_on))
                .where(Booking.status.in_(ACTIVE_STATUSES))
                .group_by(Booking.user_id)
            ).all()
        )
        if rows
        else {}
    )
    table: dict[tuple[str, str], dict] = {}
    for booking, kind, location_name, profile in rows:
        key = (location_name, _month(booking.booked_on))
        entry = table.setdefault(
            key, {"desk_days": 0.0, "room_hours": 0.0, "users": set(), "km": 0.0}
        )
        entry["users"].add(booking.user_id)
        if kind in DAY_KINDS:
            days = _weight(booking.part)
            entry["desk_days"] += days
            if profile is not None and profile.commute_km:
                entry["km"] += 2 * profile.commute_km * days
        else:
            entry["room_hours"] += (
                booking.ends_at - booking.starts_at
            ).total_seconds() / 3600
    header = (
        _l("Location"),
        _l("Month"),
        _l("Desk-days"),
        _l("Room hours"),
        _l("Different people"),
        _l("New members"),
        _l("Commuting kilometres saved"),
    )
    rows = []
    for (location_name, month), entry in sorted(table.items()):
        new = sum(1 for user in entry["users"] if _month(first_booking[user]) == month)
        rows.append(
            (
                location_name,
                _month_label(month),
                round(float(entry["desk_days"]), 2),
                round(float(entry["room_hours"]), 2),
                len(entry["users"]),
                new,
                round(float(entry["km"]), 1),
            )
        )
    return csv_text(header, rows)


def target_groups_csv(db: Session, ids: list[int], first: date, last: date) -> str:
    """Members who booked in the period by self-declared target group and home
    municipality; groups under MIN_GROUP people are shown as "<3"."""
    rows = _rows_between(db, ids, first, last)
    people: dict[int, MemberProfile | None] = {}
    for booking, _kind, _name, profile in rows:
        people[booking.user_id] = profile
    groups = Counter(
        (p.target_group if p is not None and p.target_group else "not_given")
        for p in people.values()
    )
    places = Counter(
        (p.home_municipality if p is not None and p.home_municipality else "not_given")
        for p in people.values()
    )
    rows = []
    total = len(people) or 1
    group_dim, place_dim = _l("Target group"), _l("Home municipality")
    for group in [*TargetGroup, "not_given"]:
        count = groups.get(str(group), 0)
        share = round(count / total, 2) if count >= MIN_GROUP else None
        rows.append([group_dim, TARGET_GROUP_LABELS[str(group)], _small(count), share])
    for place, count in sorted(places.items()):
        if count >= MIN_GROUP or place == "not_given":
            label = TARGET_GROUP_LABELS["not_given"] if place == "not_given" else place
            rows.append([place_dim, label, _small(count), None])
    small = sum(c for p, c in places.items() if c < MIN_GROUP and p != "not_given")
    if small:
        rows.append([place_dim, _l("other (small groups)"), _small(small), None])
    rows.append([_l("Total"), "", len(people), 1.0 if people else None])
    return csv_text((_l("Dimension"), _l("Value"), _l("People"), _l("Share")), rows)
