"""Stripe configured but unreachable: the member hears that it is temporary
and can pay another way."""

from __future__ import annotations

import re
import socket

import pytest

from booking.billing import services as billing
from booking.billing.models import Order, PaymentMethod
from booking.bookings.models import Booking, BookingStatus
from tests.conftest import csrf_token, next_weekday
from tests.support.billing_helpers import fresh


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "STRIPE_SECRET_KEY": "sk_test_down",
        "STRIPE_API_BASE": f"http://127.0.0.1:{_closed_port()}",
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "STRIPE_TIMEOUT_S": 1,
    }


def test_card_payment_down_offers_the_other_ways(
    client, db, create_user, create_location, create_resource
):
    operator = create_user("betrieb@example.org", role="operator")
    location = create_location(operator)
    desk = create_resource(location, "desk", name="Fensterplatz")
    desk.price_day_cents = 1500
    db.commit()
    billing.save_payment_settings(
        db,
        operator,
        location.id,
        {
            "stripe": "1",
            "invoice": "1",
            "on_site": "1",
            "invoice_confirms": "1",
            "account_holder": "Dorfbüro",
            "iban": "DE89 3704 0044 0532 0130 00",
        },
    )
    member = create_user("jana@example.org", locale="de")
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"email": member.email, "password": "password123", "csrf_token": token},
    )
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    response = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": next_weekday(2, min_days=3).isoformat(),
            "csrf_token": csrf_token(client, "/"),
        },
    )
    order_id = int(re.search(r"/billing/orders/(\d+)", response.location).group(1))
    page = client.get(response.location).get_data(as_text=True)
    assert "Jetzt online bezahlen" in page
    response = client.post(
        f"/billing/orders/{order_id}/pay", data={"csrf_token": csrf_token(client, "/")}
    )
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "vorübergehend" in page and "andere Zahlungsart" in page
    assert "Kartenzahlung erneut versuchen" in page
    assert "Per Überweisung bezahlen" in page and "Vor Ort bezahlen" in page
    response = client.post(
        f"/billing/orders/{order_id}/method",
        data={"payment_method": "on_site", "csrf_token": csrf_token(client, "/")},
    )
    assert response.status_code == 303
    fresh(db)
    order = db.get(Order, order_id)
    assert order.payment_method == PaymentMethod.ON_SITE and order.payments == []
    assert db.get(Booking, order.booking_id).status == BookingStatus.CONFIRMED
