"""Dashboard figures: each location's own "today", hours per week the location
existed, labels in the reader's language, and the JSON figures for operators."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.bookings.services import BookingRequest, create_booking
from booking.insight.services import dashboard
from tests.conftest import Auth, next_weekday

ALL_DAY = {
    d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def place(create_location, create_resource):
    def make(**values):
        location = create_location(opening_hours=ALL_DAY, horizon_days=60, **values)
        desk = create_resource(location, "desk", "D1")
        room = create_resource(location, "room", "R1")
        return location, desk, room

    return make


def test_network_today_is_each_locations_own_date(db, place, create_user):
    berlin, berlin_desk, _ = place(name="Eilenburg")
    new_york, ny_desk, _ = place(name="Hudson", timezone="America/New_York")
    day = next_weekday(2, min_days=3)
    # 03:00 UTC: already `day` in Berlin, still the evening before in New York.
    now = datetime.combine(day, time(3), tzinfo=UTC)
    create_booking(db, create_user(), BookingRequest(berlin_desk.id, on=day))
    create_booking(
        db, create_user(), BookingRequest(ny_desk.id, on=day - timedelta(days=1))
    )
    board = dashboard(db, [berlin, new_york], now=now)
    assert board.seats == 2
    assert board.occupancy_today == 1.0  # both desks are booked on their today
    assert board.active_members == 2
    assert board.week[-1] == (day, 1.0)
    # Alone, each location sees its own booking as today's.
    assert dashboard(db, [new_york], now=now).today == day - timedelta(days=1)
    assert dashboard(db, [new_york], now=now).occupancy_today == 1.0


@pytest.mark.parametrize(("existed_days", "per_week"), [(14, 0.5), (100, 0.12)])
def test_hours_are_averaged_over_the_weeks_the_location_existed(
    db, place, create_user, existed_days, per_week
):
    location, _, room = place()
    day = next_weekday(1, min_days=2)
    start = datetime.combine(day, time(9), tzinfo=BERLIN)
    create_booking(
        db,
        create_user(),
        BookingRequest(room.id, starts_at=start, ends_at=start + timedelta(hours=2)),
    )
    # Opened `existed_days` days before `day`, counting both ends.
    opened = datetime.combine(
        day - timedelta(days=existed_days - 1), time(8), tzinfo=BERLIN
    )
    location.created_at = opened
    db.commit()
    board = dashboard(db, [location], now=start + timedelta(hours=4))
    hours = dict(board.by_hour)
    # 14 days are 2 weeks: one booking a week. Past 8 weeks the window is 8.
    assert hours[9] == hours[10] == per_week and hours[11] == 0


def test_weekday_labels_and_dates_are_in_the_readers_language(
    client, db, place, create_user
):
    location, desk, _ = place()
    create_booking(db, create_user(), BookingRequest(desk.id, on=next_weekday(1)))
    Auth(client).login(location.operators[0].email)
    english = client.get(f"/manage/locations/{location.id}/insight").get_data(
        as_text=True
    )
    assert ">Mon</text>" in english and ">mon</text>" not in english
    client.set_cookie("lang", "de")
    german = client.get(f"/manage/locations/{location.id}/insight").get_data(
        as_text=True
    )
    assert ">Mo.</text>" in german and ">Mon</text>" not in german
    today = datetime.now(BERLIN).date()
    assert f">{today.day}.{today.month}.</text>" in german
    assert f">{today:%d/%m}</text>" in english
    assert ">06 Uhr</text>" in german and ">06</text>" in english
    assert "Belegung" in german or "Auslastung" in german


def test_json_figures_only_for_the_locations_operators(
    api, db, place, create_user, create_location
):
    location, desk, _ = place()
    day = datetime.now(BERLIN).date()
    create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    url = f"/api/v1/locations/{location.id}/insight"
    response = api(location.operators[0]).get(url)
    assert response.status_code == 200
    body = response.get_json()
    assert body["location_id"] == location.id and body["seats"] == 1
    assert body["today"] == day.isoformat()
    assert body["week"][-1] == {"date": day.isoformat(), "occupancy": 1.0}
    assert [w["weekday"] for w in body["by_weekday"]][:2] == ["mon", "tue"]
    assert {"hour", "bookings_per_week"} <= set(body["by_hour"][0])
    assert body["active_members"] == 1
    other = create_location()  # run by someone else
    assert api(other.operators[0]).get(url).status_code == 403
    assert api(create_user()).get(url).status_code == 403
    assert api().get(url).status_code == 401
    assert (
        api(location.operators[0]).get("/api/v1/locations/9999/insight").status_code
        == 404
    )
