"""The payment flow through the JSON API."""

from __future__ import annotations

import pytest

from booking.passes import services as passes
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh


@pytest.fixture
def desk(create_location, create_resource, db):
    resource = create_resource(create_location(), "desk")
    resource.price_day_cents = 1500
    db.commit()
    return resource


@pytest.fixture
def member(create_user):
    return create_user("api@example.org")


def _book(client, desk, weekday=1):
    day = next_weekday(weekday, min_days=3)
    return client.post(
        "/api/v1/bookings", json={"resource_id": desk.id, "date": day.isoformat()}
    )


def test_pay_for_a_booking_through_the_api(
    db, api, desk, member, create_user, stripe_emulator, webhooks
):
    client = api(member)
    response = _book(client, desk)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending_payment"
    payment = body["payment"]
    assert payment["amount_cents"] == 1500 and payment["currency"] == "EUR"
    assert payment["vat_cents"] == 239
    assert payment["hold_expires_at"].endswith("Z")
    assert payment["checkout"] == f"/api/v1/bookings/{body['id']}/checkout"

    # Nobody else can start paying it.
    assert api(create_user()).post(payment["checkout"]).status_code == 404

    started = client.post(payment["checkout"])
    assert started.status_code == 200
    url = started.get_json()["payment_url"]
    assert url.startswith(stripe_emulator.url + "/checkout/cs_test_")
    assert client.post(payment["checkout"]).get_json()["payment_url"] == url

    stripe_emulator.pay(url.rsplit("/", 1)[1])
    assert client.get(f"/api/v1/bookings/{body['id']}").get_json()["status"] == (
        "pending_payment"
    )
    webhooks.deliver()
    fresh(db)
    assert client.get(f"/api/v1/bookings/{body['id']}").get_json()["status"] == (
        "confirmed"
    )
    again = client.post(payment["checkout"])
    assert again.status_code == 409
    assert again.get_json()["error"] == "conflict"


def test_checkout_return_urls_are_on_the_public_url(
    app, api, desk, member, stripe_emulator
):
    app.config["PUBLIC_URL"] = "https://landdesk.example.org"
    client = api(member)
    payment = _book(client, desk).get_json()["payment"]
    started = client.post(payment["checkout"], headers={"Host": "evil.example"})
    session_id = started.get_json()["payment_url"].rsplit("/", 1)[1]
    session = stripe_emulator.request("GET", f"/v1/checkout/sessions/{session_id}")
    order = payment["order_id"]
    assert session["success_url"] == (
        f"https://landdesk.example.org/billing/orders/{order}/return?result=success"
    )
    assert session["cancel_url"].startswith("https://landdesk.example.org/")


def test_free_and_credit_bookings_need_no_payment(
    db,
    api,
    desk,
    member,
    create_location,
    create_resource,
    create_user,
    stripe_emulator,
    webhooks,
):
    free = create_resource(create_location(), "desk")
    response = _book(api(member), free)
    assert response.status_code == 201
    assert response.get_json()["status"] == "confirmed"
    assert "payment" not in response.get_json()

    plan = passes.create_plan(
        db,
        create_user("admin@example.org", role="admin"),
        {"kind": "membership", "name": "Netz 4", "price": "39", "days": "4"},
    )
    buy_and_pay(db, member, plan.id, stripe_emulator, webhooks)
    client = api(member)
    response = _book(client, desk, weekday=3)
    assert response.get_json()["status"] == "confirmed"
    day = next_weekday(3, min_days=3)
    credits = client.get(
        f"/api/v1/me/credits?location_id={desk.location_id}&date={day.isoformat()}"
    ).get_json()
    assert [(c["name"], c["remaining_days"], c["standing"]) for c in credits] == [
        ("Netz 4", 3, "active")
    ]
    assert api().get("/api/v1/me/credits").status_code == 401


def test_payment_routes_are_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "post" in spec["paths"]["/bookings/{booking_id}/checkout"]
    assert "get" in spec["paths"]["/me/credits"]
    assert "Payment" in spec["components"]["schemas"]


class TestStripeUnreachable:
    @pytest.fixture
    def app_config(self, app_config):
        from tests.support.stripe_emulator import free_port

        return {**app_config, "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}"}

    def test_the_api_says_try_again_and_the_hold_stays(self, api, desk, member):
        client = api(member)
        body = _book(client, desk).get_json()
        response = client.post(body["payment"]["checkout"])
        assert response.status_code == 503
        assert response.get_json()["error"] == "payment_unavailable"
        assert client.get(f"/api/v1/bookings/{body['id']}").get_json()["status"] == (
            "pending_payment"
        )
