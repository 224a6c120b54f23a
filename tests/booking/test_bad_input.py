"""Malformed input gets a 4xx answer with a message and writes nothing."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from booking.access.models import AccessEvent
from booking.billing.models import StripeEvent
from booking.passes.models import Plan
from booking.spaces.models import Closure
from tests.support.stripe_fixtures import WEBHOOK_SECRET, sign

# One past the largest id an INTEGER column holds (PostgreSQL's int4).
TOO_BIG = 2**31
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _path_with(rule: str, number: int) -> str:
    def fill(match: re.Match) -> str:
        return str(number) if match.group(1) == "int" else "x"

    return _ARG.sub(fill, rule)


def count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def test_ids_beyond_the_id_columns_are_not_found_on_every_route(
    app, client, auth, create_user
):
    auth.login(create_user(role="admin").email)
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert len(rules) > 30
    token = auth.csrf()
    odd = []
    for rule in rules:
        path = _path_with(rule.rule, TOO_BIG)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # With a CSRF token, so that the check before routing lets it by.
            body = (
                {"json": {}}
                if path.startswith("/api/")
                else {"data": {"csrf_token": token}}
            )
            response = client.open(
                path, method=method, headers={"X-CSRFToken": token}, **body
            )
            if response.status_code != 404:
                odd.append((method, path, response.status_code))
    assert odd == [], "\n".join(map(str, odd))
    # The largest id still reaches the view (which finds no such row).
    response = client.get(f"/api/v1/bookings/{TOO_BIG - 1}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "since=0001-01-01T00:00%2B01:00",
        "until=tomorrow",
        "door_id=99999999999999999999999",
        "location_id=abc",
    ],
)
def test_access_log_filters_out_of_range(db, api, create_location, query):
    location = create_location()
    response = api(location.operators[0]).get(f"/api/v1/access-log?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_input"
    assert response.get_json()["message"]
    assert count(db, AccessEvent) == 0


def test_form_numbers_that_are_not_numbers(
    db, client, auth, create_location, create_resource
):
    location = create_location(
        opening_hours={d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed")}
    )
    create_resource(location, "room", "Hall")
    auth.login(location.operators[0].email)
    for resource_id in ("abc", "²", "99999999999999999999999"):
        response = client.post(
            f"/manage/locations/{location.id}/closures",
            data={
                "csrf_token": auth.csrf(),
                "starts_on": "2030-01-07",
                "resource_id": resource_id,
            },
        )
        assert response.status_code == 400, resource_id
        page = response.get_data(as_text=True)
        assert "Choose an entry from the list." in page
        # The location form below keeps the location's values, not the
        # closure form's (an empty name there would be saved next).
        assert f'name="name" value="{location.name}"' in page
    assert count(db, Closure) == 0
    response = client.post(
        "/operator/plans",
        data={
            "csrf_token": auth.csrf(),
            "name": "Flex",
            "kind": "membership",
            "price": "10",
            "location_id": "abc",
        },
    )
    assert response.status_code == 400
    assert count(db, Plan) == 0
    response = client.post(
        "/bookings",
        data={
            "csrf_token": auth.csrf(),
            "resource_id": "1",
            "start": "2030-01-07T10:00",
            "duration": "99999999999999",
        },
    )
    assert response.status_code == 400
    assert "Choose how long you need the room." in response.get_data(as_text=True)
    response = client.get(f"/manage/insight/usage.csv?location_id={TOO_BIG}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "target", ["/%0d%0aSet-Cookie:%20x=1", "/\\evil.example", "/%09/evil.example"]
)
def test_login_next_is_never_a_header_or_another_site(
    client, auth, create_user, target
):
    user = create_user()
    response = client.post(
        f"/login?next={target}",
        data={
            "email": user.email,
            "password": "password123",
            "csrf_token": auth.csrf("/login"),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "event",
    [
        {"id": "evt_1", "type": 5, "data": {"object": {}}},
        {"id": "evt_2", "type": "checkout.session.completed", "data": []},
        {"id": "evt_3", "type": "invoice.paid", "data": {"object": "x"}},
        {"id": "e" * 300, "type": "invoice.paid", "data": {"object": {}}},
        {"id": 7, "type": "invoice.paid"},
    ],
)
def test_signed_but_malformed_webhook_is_refused(app, db, client, event):
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    payload = json.dumps(event).encode()
    response = client.post(
        "/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert count(db, StripeEvent) == 0


def test_digits_of_other_scripts_are_not_numbers(
    app, db, client, auth, create_location
):
    # str.isdigit() says yes to these; int() then raised a ValueError (500).
    assert client.get("/calendar/²1.abc.ics").status_code == 404
    app.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    response = client.post(
        "/stripe/webhook",
        data=b"{}",
        headers={"Stripe-Signature": "t=²,v1=00", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    location = create_location()
    auth.login(location.operators[0].email)
    response = client.post(
        "/operator/plans",
        data={
            "csrf_token": auth.csrf(),
            "name": "Day",
            "kind": "day_pass",
            "price": "²",
            "location_id": str(location.id),
        },
    )
    assert response.status_code == 400
    assert count(db, Plan) == 0
