"""The operator's forms: hours and coordinates as people write them, every
error at once, prices in euros, closing a booked day only after a look."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.bookings.models import Booking
from booking.bookings.services import BookingRequest, create_booking
from booking.errors import InvalidInput
from booking.spaces import services
from booking.spaces.forms import parse_hours_field
from booking.spaces.models import Location, Resource
from tests.conftest import next_weekday


@pytest.mark.parametrize(
    ("text", "intervals"),
    [
        ("9-13 Uhr", [["09:00", "13:00"]]),
        ("08:00-12:00, 13:00-18:00", [["08:00", "12:00"], ["13:00", "18:00"]]),
        ("8.30 – 12; 13 bis 18 Uhr", [["08:30", "12:00"], ["13:00", "18:00"]]),
        ("9h-17h", [["09:00", "17:00"]]),
        ("geschlossen", []),
        ("", []),
        ("0-24", [["00:00", "24:00"]]),
    ],
)
def test_hours_as_people_write_them(text, intervals):
    assert parse_hours_field(text) == intervals


@pytest.mark.parametrize("text", ["9 bis", "ab 9", "9-13-15", "neun bis zwölf"])
def test_unreadable_hours_are_refused(text):
    with pytest.raises(InvalidInput):
        parse_hours_field(text)


def test_short_names_are_suggested_from_the_name(db, create_location):
    assert services.suggest_slug(db, "Alte Schule Wörlitz") == "alte-schule-woerlitz"
    assert services.suggest_slug(db, "Café & Co. (Groß Gaglow)") == (
        "cafe-co-gross-gaglow"
    )
    create_location(slug="alte-schule")
    assert services.suggest_slug(db, "Alte Schule") == "alte-schule-2"


def test_decimal_commas_in_coordinates(db, create_location):
    location = create_location(lat="51,3646", lon="13,25")
    assert (location.lat, location.lon) == (51.3646, 13.25)
    with pytest.raises(InvalidInput):
        create_location(lat="51,36,46")


def post_form(client, auth, path: str, data: dict):
    return client.post(path, data={"csrf_token": auth.csrf(path), **data})


def _new_location_form(**fields):
    return {
        "name": "Dorfladen Kühnitzsch",
        "address": "Dorfstraße 4",
        "lat": "51,3646",
        "lon": "12,8",
        **{f"hours_{d}": "8-18" for d in ("mon", "tue", "wed", "thu", "fri")},
        "timezone": "Europe/Berlin",
        "operator_model": "village_centre",
        "horizon_days": "30",
        "cancel_cutoff_hours": "0",
        "midday": "13:00",
        "is_active": "on",
        **fields,
    }


def test_a_location_with_its_resources_in_one_post(client, auth, create_user, db):
    create_user("op@example.org", role="operator", locale="de")
    auth.login("op@example.org")
    answer = post_form(
        client,
        auth,
        "/manage/locations/new",
        _new_location_form(
            desks="5", rooms="1", room_capacity="8", flex_areas="1", flex_capacity="4"
        ),
    )
    assert answer.status_code == 303
    location = db.scalar(select(Location))
    assert location.slug == "dorfladen-kuehnitzsch"
    kinds = [(r.kind, r.capacity) for r in location.resources]
    assert kinds == [("desk", 1)] * 5 + [("room", 8), ("flex", 4)]
    # The message counts what was made, kind by kind, in words.
    page = client.get(answer.location).get_data(as_text=True)
    assert (
        "Standort angelegt: 5 Arbeitsplätze, 1 Besprechungsraum, 1 Flexbereich." in page
    )


def test_every_error_at_once_and_nothing_saved(client, auth, create_user, db):
    create_user("op@example.org", role="operator")
    auth.login("op@example.org")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    answer = post_form(
        client,
        auth,
        "/manage/locations/new",
        _new_location_form(
            lat="abc", hours_tue="9 bis", hours_thu="18-9", desks="x", midday="25:00"
        ),
    )
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Dienstag: " in page and "Donnerstag: " in page
    assert "Breitengrad: Hier muss eine Zahl stehen." in page
    assert page.count('class="field-error"') == 5
    assert db.scalar(select(Location.id)) is None


@pytest.fixture
def space(create_location, create_resource, create_user):
    operator = create_user("op@example.org", role="operator", locale="de")
    location = create_location(operator)
    desks = [create_resource(location, "desk", f"Platz {n}") for n in (1, 2)]
    room = create_resource(location, "room", "Saal", capacity=8)
    return location, desks, room


def test_prices_in_euros_for_one_and_for_all_desks(client, auth, space, db):
    location, (first, second), room = space
    auth.login("op@example.org")
    path = f"/manage/locations/{location.id}"
    post_form(client, auth, path + "/desk-prices", {"price_day": "12,50"})
    post_form(
        client,
        auth,
        f"/manage/resources/{second.id}",
        {
            "name": "Platz 2",
            "capacity": "1",
            "is_active": "on",
            "price_day": "15",
            "price_half_day": "9,00",
        },
    )
    post_form(
        client,
        auth,
        f"/manage/resources/{room.id}",
        {"name": "Saal", "capacity": "8", "is_active": "on", "price_hour": "20,00 €"},
    )
    db.rollback()
    db.expire_all()
    assert db.get(Resource, first.id).prices == {
        "day": 1250,
        "half_day": 1250,
        "hour": None,
    }
    assert db.get(Resource, second.id).prices == {
        "day": 1500,
        "half_day": 900,
        "hour": None,
    }
    assert db.get(Resource, room.id).prices["hour"] == 2000
    page = client.get(path).get_data(as_text=True)
    assert 'value="12,50"' in page and 'value="20,00"' in page
    # A bad amount changes nothing and says why.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    answer = post_form(client, auth, path + "/desk-prices", {"price_day": "zwölf"})
    assert answer.location.endswith("?at=resources#resources")
    page = client.get(answer.location).get_data(as_text=True)
    assert "12,50" in page
    # The error stands next to the price form the page scrolls to, not at
    # the top of the page out of sight.
    section = page[page.index('id="resources"') :]
    assert "Betrag wie 12,50" in section.split('id="desk-prices"')[0]
    assert page.count('class="flash error"') == 1
    db.rollback()
    db.expire_all()
    assert db.get(Resource, first.id).price_day_cents == 1250


def test_other_operators_cannot_set_prices(client, auth, space, create_user):
    location, (first, _), _ = space
    create_user("other@example.org", role="operator")
    auth.login("other@example.org")
    path = f"/manage/locations/{location.id}/desk-prices"
    token = auth.csrf("/manage/")
    answer = client.post(path, data={"csrf_token": token, "price_day": "1"})
    assert answer.status_code == 403
    answer = client.post(
        f"/manage/resources/{first.id}",
        data={"csrf_token": token, "name": "x", "price_day": "1"},
    )
    assert answer.status_code == 403


def test_closing_a_booked_day_asks_first(client, auth, space, create_user, db):
    location, (first, _), _ = space
    day = next_weekday(2, min_days=2)
    member = create_user("jana@example.org", name="Jana Richter")
    booking = create_booking(db, member, BookingRequest(first.id, on=day))
    auth.login("op@example.org")
    path = f"/manage/locations/{location.id}/closures"
    form = {"starts_on": day.isoformat(), "reason": "Ferien"}
    token = auth.csrf(f"/manage/locations/{location.id}")
    answer = client.post(path, data={"csrf_token": token, **form})
    assert answer.status_code == 200
    assert "Jana Richter" in answer.get_data(as_text=True)
    db.rollback()
    db.expire_all()
    assert db.get(Booking, booking.id).status == "confirmed"
    assert services.closures_between(db, location.id, day, day) == []
    answer = client.post(path, data={"csrf_token": token, **form, "confirm": "1"})
    assert answer.status_code == 303
    db.rollback()
    db.expire_all()
    assert db.get(Booking, booking.id).status == "cancelled"
    assert len(services.closures_between(db, location.id, day, day)) == 1


def test_the_older_price_form_follows_the_same_rules(client, auth, space, db):
    location, (first, _), room = space
    auth.login("op@example.org")
    path = f"/operator/resources/{first.id}/prices"
    token = auth.csrf(f"/manage/locations/{location.id}")
    client.post(
        path,
        data={
            "csrf_token": token,
            "price_day_cents": "15,00",
            "price_half_day_cents": "",
            "price_hour_cents": "0",
        },
    )
    db.rollback()
    db.expire_all()
    assert db.get(Resource, first.id).prices == {
        "day": 1500,
        "half_day": 1500,
        "hour": None,
    }
    # A desk has no hourly price, whichever form sets it.
    client.post(path, data={"csrf_token": token, "price_hour_cents": "5"})
    db.rollback()
    db.expire_all()
    assert db.get(Resource, first.id).price_hour_cents == 0
