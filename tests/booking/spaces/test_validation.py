"""Operator input is checked before anything is saved, and an error saves nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.errors import InvalidInput
from booking.passes.models import Plan
from booking.spaces import services
from booking.spaces.models import Location


def post_form(client, auth, path: str, data: dict):
    return client.post(path, data={"csrf_token": auth.csrf(path), **data})


def fresh(db, model, row_id):
    db.rollback()  # end the test session's read snapshot
    db.expire_all()  # and forget what it loaded before the request
    return db.get(model, row_id)


@pytest.mark.parametrize("value", ["-1:00", "+1:00", " 1:00", "1:000", "٠٨:00"])
def test_opening_hours_and_midday_refuse_signed_times(db, create_location, value):
    location = create_location()
    operator = location.operators[0]
    with pytest.raises(InvalidInput):
        services.update_location(
            db,
            operator,
            location.id,
            {"opening_hours": {"mon": [[value, "12:00"]]}},
        )
    with pytest.raises(InvalidInput):
        services.update_location(db, operator, location.id, {"midday": value})
    assert fresh(db, Location, location.id).midday == "13:00"


def test_opening_hours_span_the_whole_day(db, create_location):
    location = create_location()
    services.update_location(
        db,
        location.operators[0],
        location.id,
        {"opening_hours": {"mon": [["00:00", "24:00"]]}, "midday": "00:00"},
    )
    assert fresh(db, Location, location.id).opening_hours["mon"] == [["00:00", "24:00"]]


def test_location_form_error_saves_nothing(
    db, client, auth, create_user, create_location
):
    location = create_location()
    name = location.name
    admin = create_user(role="admin")
    auth.login(admin.email)
    path = f"/manage/locations/{location.id}"
    page = client.get(path)
    assert page.status_code == 200
    form = {
        "name": "Renamed",
        "slug": location.slug,
        "address": location.address,
        "lat": str(location.lat),
        "lon": str(location.lon),
        "timezone": location.timezone,
        "operator_model": location.operator_model.value,
        "horizon_days": "30",
        "cancel_cutoff_hours": "0",
        "midday": "13:00",
        "hours_mon": "08:00-18:00",
        "is_active": "on",
        "operators": "nobody@example.org",
    }
    response = post_form(client, auth, path, form)
    assert response.status_code == 400
    assert "nobody@example.org is not an operator account." in response.get_data(
        as_text=True
    )
    saved = fresh(db, Location, location.id)
    assert saved.name == name
    assert [u.id for u in saved.operators] == [location.operators[0].id]
    # With a real operator both changes are saved together.
    form["operators"] = location.operators[0].email
    saved = post_form(client, auth, path, form)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert fresh(db, Location, location.id).name == "Renamed"


@pytest.mark.parametrize(
    ("vat", "ok"),
    [
        ("-5000", False),
        ("10001", False),
        ("abc", False),
        ("1e3", False),
        ("99999999999999999999999", False),
        ("0", True),
        ("700", True),
        ("10000", True),
    ],
)
def test_plan_vat_rate_is_between_0_and_100_percent(
    db, client, auth, create_location, vat, ok
):
    location = create_location()
    auth.login(location.operators[0].email)
    response = post_form(
        client,
        auth,
        "/operator/plans",
        {
            "name": "Flex",
            "kind": "pack",
            "price": "50",
            "days": "5",
            "valid_days": "60",
            "location_id": str(location.id),
            "vat_rate_bp": vat,
        },
    )
    db.rollback()
    plans = db.scalars(select(Plan).where(Plan.location_id == location.id)).all()
    if ok:
        assert response.status_code == 303
        assert [p.vat_rate_bp for p in plans] == [int(vat)]
    else:
        assert response.status_code == 400
        assert "The VAT rate is between 0 and 100 %." in response.get_data(as_text=True)
        assert plans == []


@pytest.mark.parametrize("price", ["-1", "-0.50", "abc"])
def test_plan_price_is_not_negative(db, client, auth, create_location, price):
    location = create_location()
    auth.login(location.operators[0].email)
    response = post_form(
        client,
        auth,
        "/operator/plans",
        {
            "name": "Day",
            "kind": "day_pass",
            "price": price,
            "location_id": str(location.id),
        },
    )
    assert response.status_code == 400
    db.rollback()
    assert db.scalars(select(Plan)).all() == []
