"""The contract is one source: the schemas parse requests, shape answers and
make /api/v1/openapi.json, and the suite checks every answer against it."""

from __future__ import annotations

import pytest
from flask import Response

from booking.bookings.models import Booking
from tests.conftest import next_weekday
from tests.support.contract import check_answer


@pytest.fixture
def desk(create_location, create_resource):
    location = create_location(horizon_days=60)
    return create_resource(location, "desk", "Desk 1")


def test_unknown_fields_are_refused_and_nothing_is_booked(api, create_user, desk, db):
    member = create_user()
    response = api(member).post(
        "/api/v1/bookings",
        json={
            "resource_id": desk.id,
            "date": next_weekday(2).isoformat(),
            # A guest is "guest" (issue 17 point 4); anything else is refused.
            "visitor": {"name": "Somebody", "email": "guest@example.org"},
        },
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_input",
        "message": "Unknown field: visitor.",
        "field": "visitor",
    }
    assert db.query(Booking).count() == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/auth/token", {"email": "a@b.c", "password": "x", "otp": 1}),
        ("post", "/api/v1/day-passes", {"plan_id": 1, "date": "2030-01-01", "x": 1}),
        ("delete", "/api/v1/me", {"password": "password123", "force": True}),
        ("post", "/api/v1/doors/1/unlock", {"remote": False, "pin": "1234"}),
    ],
)
def test_unknown_fields_are_refused_everywhere(api, create_user, method, path, body):
    response = getattr(api(create_user()), method)(path, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_input"
    assert response.get_json()["message"].startswith("Unknown field: ")


def test_unknown_notification_kinds_keep_their_message(api, create_user):
    response = api(create_user()).put(
        "/api/v1/me/notifications", json={"reminder": True, "sms": True}
    )
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_input",
        "message": 'Send {"<kind>": true|false} for the known kinds.',
        "field": "notifications",
    }


def test_a_body_that_is_not_an_object_is_400_not_500(api, create_user):
    response = api(create_user()).delete("/api/v1/me", json=["password123"])
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_input",
        "message": "Send a JSON object as the request body.",
    }


def test_405_names_the_allowed_methods(client):
    response = client.put("/api/v1/locations")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST", "HEAD"}
    assert response.get_json()["error"] == "method_not_allowed"


def test_the_document_comes_from_the_schemas(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    booking_input = spec["components"]["schemas"]["BookingInput"]
    assert booking_input["additionalProperties"] is False
    assert booking_input["required"] == ["resource_id"]
    create = spec["paths"]["/bookings"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BookingInput"
    }
    assert set(create["responses"]) >= {"201", "400", "401", "409", "413"}
    assert spec["paths"]["/bookings/{booking_id}"]["parameters"][0]["schema"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
    }


def test_the_suite_checks_answers_against_the_document(app):
    """tests/conftest.py's client runs check_answer on every /api/v1 answer."""
    good = Response(
        b'{"token": "t", "token_type": "Bearer"}', 200, mimetype="application/json"
    )
    check_answer(app, "POST", "/api/v1/auth/token", good)
    wrong_shape = Response(b'{"token": 5}', 200, mimetype="application/json")
    with pytest.raises(AssertionError, match="breaks its schema"):
        check_answer(app, "POST", "/api/v1/auth/token", wrong_shape)
    undocumented = Response(
        b'{"error": "x", "message": "y"}', 418, mimetype="application/json"
    )
    with pytest.raises(AssertionError, match="not documented"):
        check_answer(app, "POST", "/api/v1/auth/token", undocumented)
