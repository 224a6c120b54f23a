"""GeoJSON, dashboards with SVG charts, funders' CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from booking.bookings.models import DayPart
from booking.bookings.services import BookingRequest, create_booking
from booking.insight.services import save_profile
from tests.conftest import Auth, next_weekday


def test_geojson_is_public_and_lon_lat(api, create_location, create_resource):
    location = create_location(lat=51.46, lon=12.63, operator_model="commuter_hub")
    create_resource(location, "desk", "D1")
    response = api().get("/api/v1/locations.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    [feature] = body["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [12.63, 51.46]}
    props = feature["properties"]
    assert props["name"] == location.name and props["address"] == location.address
    assert props["operator_model"] == "commuter_hub"
    assert "mon" in props["opening_hours"] and "free_desks_today" in props


@pytest.fixture
def used_space(db, create_location, create_resource, create_user):
    location = create_location(horizon_days=60)
    desks = [create_resource(location, "desk", f"D{i}") for i in range(4)]
    day = next_weekday(1)
    members = []
    for i, (group, km) in enumerate(
        [("commuter", 30), ("commuter", 20), ("commuter", 10), ("craft", None)]
    ):
        member = create_user()
        save_profile(
            db,
            member,
            {"target_group": group, "commute_km": km, "home_municipality": "Eilenburg"},
        )
        part = DayPart.AM if i == 3 else DayPart.FULL
        create_booking(db, member, BookingRequest(desks[i].id, on=day, part=part))
        members.append(member)
    return location, day, members


def _csv(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_usage_export(client, used_space, create_user):
    location, day, _ = used_space
    Auth(client).login(location.operators[0].email)
    month = f"{day:%Y-%m}"
    response = client.get(f"/manage/insight/usage.csv?from={month}&to={month}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    [row] = _csv(response)
    assert row["Location"] == location.name
    assert row["Month"] == f"{day:%B %Y}"
    assert row["Desk-days"] == "3.5" and row["Different people"] == "4"
    assert row["New members"] == "4"
    assert row["Commuting kilometres saved"] == "120"  # 2 × (30 + 20 + 10)


def test_german_export_opens_in_german_excel(client, used_space):
    """From the German UI: semicolons, UTF-8 with BOM, German headers and
    values, decimal comma."""
    location, day, _ = used_space
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    Auth(client).login(location.operators[0].email)
    month = f"{day:%Y-%m}"
    response = client.get(f"/manage/insight/usage.csv?from={month}&to={month}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "Standort;Monat;Schreibtisch-Tage;Raumstunden;Verschiedene Personen;"
        "Neue Mitglieder;Eingesparte Pendelkilometer"
    )
    [row] = list(csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"))
    assert row["Schreibtisch-Tage"] == "3,5" and row["Standort"] == location.name
    assert row["Monat"].endswith(f" {day:%Y}") and row["Monat"][0].isalpha()
    groups = client.get(f"/manage/insight/target-groups.csv?from={month}&to={month}")
    text = groups.get_data().decode("utf-8-sig")
    assert "Zielgruppe;Pendler" in text and "Gesamt;" in text


def test_funders_export_defaults_to_last_complete_month(client, used_space):
    from booking.insight.views import last_complete_month

    assert last_complete_month(date(2026, 12, 7)) == (
        date(2026, 11, 1),
        date(2026, 11, 1),
    )
    assert last_complete_month(date(2027, 1, 31))[0] == date(2026, 12, 1)
    location, _, _ = used_space
    Auth(client).login(location.operators[0].email)
    response = client.get("/manage/insight/usage.csv")
    first, _ = last_complete_month(date.today())
    assert (
        f"landdesk-usage-{first:%Y-%m}-{first:%Y-%m}.csv"
        in (response.headers["Content-Disposition"])
    )
    page = client.get(f"/manage/locations/{location.id}/insight").get_data(True)
    assert f'name="from" value="{first:%Y-%m}"' in page


def test_target_groups_only_in_aggregate(client, used_space, create_location):
    location, day, _ = used_space
    Auth(client).login(location.operators[0].email)
    month = f"{day:%Y-%m}"
    rows = _csv(
        client.get(f"/manage/insight/target-groups.csv?from={month}&to={month}")
    )
    by_value = {(r["Dimension"], r["Value"]): r for r in rows}
    assert by_value[("Target group", "Commuter")]["People"] == "3"
    assert by_value[("Target group", "Craft or small manufacturer")]["People"] == "<3"
    assert by_value[("Home municipality", "Eilenburg")]["People"] == "4"
    # Another operator's export does not include this location.
    other = create_location()
    client2 = client.application.test_client()
    Auth(client2).login(other.operators[0].email)
    rows = _csv(client2.get(f"/manage/insight/usage.csv?from={month}&to={month}"))
    assert rows == []
    assert (
        client2.get(f"/manage/insight/usage.csv?location_id={location.id}").status_code
        == 403
    )


def test_dashboard_renders_svg_charts(client, used_space):
    location, day, _ = used_space
    Auth(client).login(location.operators[0].email)
    page = client.get(f"/manage/locations/{location.id}/insight")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # The charts are drawn on the server: no script in the page's content (the
    # head only installs the offline service worker, on every page).
    content = html[html.index("<main>") : html.index("</main>")]
    assert html.count("<svg") == 4 and "<script" not in content
    network = client.get("/manage/insight").get_data(as_text=True)
    assert network.count("<svg") == 4
    assert 'id="active-members">' in html


def test_dashboard_figures(db, used_space):
    from booking.insight.services import dashboard

    location, day, _ = used_space
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    board = dashboard(
        db,
        [location],
        now=datetime.combine(day, time(12), tzinfo=ZoneInfo("Europe/Berlin")),
    )
    assert board.seats == 4
    assert board.occupancy_today == pytest.approx(3.5 / 4)
    assert board.active_members == 4 and board.new_members == 4
    assert board.today == day and isinstance(board.today, date)


def test_exports_neutralise_formulas(
    db, client, create_location, create_resource, create_user
):
    location = create_location(name='=HYPERLINK("http://evil.example","x")')
    day = next_weekday(1)
    place = "=2+5+cmd|' /C calc'!A0"
    for i in range(3):
        member = create_user()
        save_profile(
            db, member, {"target_group": "commuter", "home_municipality": place}
        )
        desk = create_resource(location, "desk", f"D{i}")
        create_booking(db, member, BookingRequest(desk.id, on=day))
    Auth(client).login(location.operators[0].email)
    month = f"{day:%Y-%m}"
    [usage] = _csv(client.get(f"/manage/insight/usage.csv?from={month}&to={month}"))
    assert usage["Location"] == "'" + location.name
    groups = _csv(
        client.get(f"/manage/insight/target-groups.csv?from={month}&to={month}")
    )
    places = [r["Value"] for r in groups if r["Dimension"] == "Home municipality"]
    assert "'" + place in places and place not in places


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+49 341", "'+49 341"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Eilenburg", "Eilenburg"),
        (-2, "-2"),
        (None, ""),
    ],
)
def test_one_csv_writer_makes_every_cell_safe(value, cell):
    from booking.csv_export import csv_text

    [row] = list(csv.reader(io.StringIO(csv_text(["h"], [[value]]))))[1:]
    assert row == [cell]


def test_charts_name_their_axes_and_units_and_labels_do_not_overlap():
    import re as _re

    from booking.insight.charts import bar_chart

    days = [f"{d}." for d in range(1, 31)]
    svg = str(
        bar_chart(
            days,
            [50.0] * 30,
            title="Belegung",
            max_value=100,
            unit="%",
            x_title="Tag des Monats",
            y_title="Belegte Plätze (%)",
        )
    )
    assert "Tag des Monats" in svg and "Belegte Plätze (%)" in svg
    for tick in ("0 %", "50 %", "100 %"):
        assert f">{tick}</text>" in svg
    shown = [t for t in _re.findall(r">([^<]+)</text>", svg) if t in days]
    assert 5 <= len(shown) < 30  # every few days, never on top of each other
    hours = str(bar_chart(["06 Uhr", "07 Uhr"], [0.5, 1.25], title="t", unit=""))
    assert ">0,5</text>" in hours or ">1,3</text>" in hours  # decimal comma
