"""Ways to pay chosen per location, without a Stripe key: bank transfer on
invoice and pay on site, the order page, holds, reminders, the operator's
payments page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from booking.billing import services as billing
from booking.billing.models import Order, OrderStatus, PaymentMethod
from booking.bookings.models import Booking, BookingStatus
from booking.db import utcnow
from booking.passes.models import Pass, PassStatus, Plan, PlanKind
from tests.conftest import csrf_token, next_weekday
from tests.support.billing_helpers import fresh

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def app_config(app_config):
    """No Stripe key: the money paths must work without it."""
    return {k: v for k, v in app_config.items() if not k.startswith("STRIPE_")}


def offers(**values):
    return {
        "invoice": "1",
        "on_site": "1",
        "invoice_due_days": "10",
        "invoice_confirms": "1",
        "account_holder": "Dorfbüro Eilenburg e. V.",
        "iban": IBAN,
        **values,
    }


@pytest.fixture
def space(db, create_user, create_location, create_resource):
    operator = create_user("betrieb@example.org", role="operator")
    location = create_location(operator, name="Eilenburg")
    desk = create_resource(location, "desk", name="Fensterplatz")
    desk.price_day_cents = 1500
    plan = Plan(
        name="Tagespass",
        kind=PlanKind.DAY_PASS,
        price_cents=1200,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    billing.save_payment_settings(db, operator, location.id, offers())
    return location, operator, desk, plan


@pytest.fixture
def member(create_user):
    return create_user("jana@example.org", name="Jana", locale="de")


def _login(client, email):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": "password123", "csrf_token": token}
    )
    assert response.status_code in (302, 303)


def test_settings_need_a_valid_iban_for_invoices(db, space):
    location, operator, _desk, _plan = space
    for bad in ("DE00 1234", "DE89 3704 0044 0532 0130 01"):
        with pytest.raises(Exception) as caught:
            billing.save_payment_settings(db, operator, location.id, offers(iban=bad))
        assert caught.value.field == "iban"
    assert billing.offered_methods(db, location.id, "booking") == [
        PaymentMethod.INVOICE,
        PaymentMethod.ON_SITE,
    ]
    # Memberships renew monthly by the same ways (test_memberships_offline).
    assert billing.offered_methods(db, location.id, "membership") == [
        PaymentMethod.INVOICE,
        PaymentMethod.ON_SITE,
    ]
    # Network-wide plans: through Stripe only, so nothing without it.
    assert billing.offered_methods(db, None, "membership") == []


def test_web_booking_without_stripe_choose_transfer(client, db, space, member):
    location, _operator, desk, _plan = space
    _login(client, member.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    day = next_weekday(2, min_days=3)
    token = csrf_token(client, "/")
    response = client.post(
        "/bookings",
        data={"resource_id": desk.id, "date": day.isoformat(), "csrf_token": token},
    )
    assert response.status_code == 303 and "/billing/orders/" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "Stripe" not in page and "online" not in page
    assert "Per Überweisung bezahlen" in page and "Vor Ort bezahlen" in page
    # What is being paid for: the desk, the space and the day.
    assert "<h1>Fensterplatz · Eilenburg</h1>" in page
    assert day.strftime("%d.%m.%Y") in page
    order_id = int(re.search(r"/billing/orders/(\d+)", response.location).group(1))
    response = client.post(
        f"/billing/orders/{order_id}/method",
        data={"payment_method": "invoice", "csrf_token": csrf_token(client, "/")},
    )
    assert response.status_code == 303
    page = client.get(f"/billing/orders/{order_id}").get_data(as_text=True)
    assert "DE89 3704 0044 0532 0130 00" in page
    assert f"Bestellung {order_id}" in page
    due = (date.today() + timedelta(days=10)).strftime("%d.%m.%Y")
    assert due in page
    fresh(db)
    order = db.get(Order, order_id)
    assert order.payment_method == PaymentMethod.INVOICE
    assert db.get(Booking, order.booking_id).status == BookingStatus.CONFIRMED
    # Chosen once: the choice cannot change afterwards.
    response = client.post(
        f"/billing/orders/{order_id}/method",
        data={"payment_method": "on_site", "csrf_token": csrf_token(client, "/")},
    )
    assert response.status_code == 409


def test_api_booking_refuses_a_way_the_location_does_not_offer(api, db, space, member):
    location, operator, desk, _plan = space
    billing.save_payment_settings(db, operator, location.id, offers(on_site=""))
    client = api(member)
    day = next_weekday(3, min_days=3).isoformat()
    for method in ("on_site", "stripe", "paypal"):
        response = client.post(
            "/api/v1/bookings",
            json={"resource_id": desk.id, "date": day, "payment_method": method},
        )
        assert response.status_code == 400, response.get_json()
    response = client.post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": day, "payment_method": "invoice"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "confirmed"
    assert body["payment"]["payment_method"] == "invoice"
    assert body["payment"]["bank"]["iban"] == "DE89370400440532013000"


def test_held_invoice_booking_expires_at_its_hold(db, space, member):
    location, operator, desk, _plan = space
    billing.save_payment_settings(
        db, operator, location.id, offers(invoice_confirms="")
    )
    from booking.bookings.services import BookingRequest, create_booking

    day = next_weekday(4, min_days=3)
    booking = create_booking(
        db, member, BookingRequest(desk.id, on=day, payment_method="invoice")
    )
    assert booking.status == BookingStatus.PENDING_PAYMENT
    order = billing.order_for_booking(db, booking.id)
    # Held until the due date or the booking's start, whichever is first.
    assert booking.hold_expires_at <= booking.starts_at
    assert billing.expire_holds(db, booking.hold_expires_at) == 1
    fresh(db)
    assert db.get(Booking, booking.id).status == BookingStatus.EXPIRED
    assert db.get(Order, order.id).status == OrderStatus.CANCELLED


def test_undecided_day_pass_closes_when_its_hold_ends(client, db, space, member):
    _location, _operator, _desk, plan = space
    order = billing.buy_plan(db, member, plan.id, day=next_weekday(1, min_days=3))
    assert order.hold_until is not None
    assert billing.expire_holds(db, utcnow()) == 0
    assert billing.expire_holds(db, order.hold_until) == 1
    fresh(db)
    assert db.get(Order, order.id).status == OrderStatus.CANCELLED
    assert db.get(Pass, order.pass_id).status == PassStatus.EXPIRED
    _login(client, member.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get("/plans").get_data(as_text=True)
    assert "nicht bezahlt" in page and "erstatten" not in page


def test_day_pass_on_site_through_the_api(api, db, space, member):
    _location, _operator, _desk, plan = space
    response = api(member).post(
        "/api/v1/day-passes",
        json={
            "plan_id": plan.id,
            "date": next_weekday(1, min_days=3).isoformat(),
            "payment_method": "on_site",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "active"
    assert body["payment"]["status"] == "pending"
    assert body["payment"]["payment_method"] == "on_site"


def test_day_pass_without_any_way_to_pay_says_so(api, db, space, member):
    location, operator, _desk, plan = space
    billing.save_payment_settings(db, operator, location.id, {"invoice_due_days": "14"})
    response = api(member).post(
        "/api/v1/day-passes",
        json={"plan_id": plan.id, "date": next_weekday(1, min_days=3).isoformat()},
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "no_payment_method"
    assert "Stripe" not in response.get_json()["message"]


def test_operator_records_a_transfer_on_the_payments_page(
    client, db, space, member, create_user, create_location
):
    _location, operator, _desk, plan = space
    order = billing.buy_plan(
        db, member, plan.id, day=next_weekday(1, min_days=3), payment_method="invoice"
    )
    _login(client, operator.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get("/billing/payments").get_data(as_text=True)
    assert f'id="order-{order.id}"' in page and "fällig" in page
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    form = {
        "amount": "12,00",
        "kind": "bank_transfer",
        "paid_on": date.today().isoformat(),
        "key": key,
        "csrf_token": csrf_token(client, "/billing/payments"),
    }
    for _ in range(2):  # a double click records once
        response = client.post(f"/billing/orders/{order.id}/payments", data=form)
        assert response.status_code == 303
    fresh(db)
    order = db.get(Order, order.id)
    assert order.status == OrderStatus.PAID and len(order.offline_payments) == 1
    # Another location's operator cannot record against it.
    other = create_user("anderer@example.org", role="operator")
    create_location(other)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    _login(client, other.email)
    response = client.post(
        f"/billing/orders/{order.id}/payments",
        data={**form, "csrf_token": csrf_token(client, "/billing/payments")},
    )
    assert response.status_code == 404


def test_one_reminder_after_the_due_date(db, space, member, smtp):
    from booking.notifications.payments import remind_overdue_payments

    _location, _operator, _desk, plan = space
    order = billing.buy_plan(
        db, member, plan.id, day=next_weekday(1, min_days=3), payment_method="invoice"
    )
    due = order.due_on
    assert remind_overdue_payments(db, now=utcnow()) == 0
    later = utcnow() + timedelta(days=(due - date.today()).days + 1)
    assert remind_overdue_payments(db, now=later) == 1
    mail = smtp.wait_for_message()
    text = mail.get_body(("plain",)).get_content()
    assert "DE89 3704 0044 0532 0130 00" in text and f"Bestellung {order.id}" in text
    assert remind_overdue_payments(db, now=later + timedelta(days=3)) == 0
    fresh(db)
    assert db.get(Order, order.id).reminded_at is not None


def test_a_double_choice_makes_one_sale(app, db, space, member):
    """Two requests choosing at once (a double click, two tabs): one sale."""
    import threading

    from booking import events
    from booking.auth.models import User
    from booking.db import get_db

    _location, _operator, _desk, plan = space
    order = billing.buy_plan(db, member, plan.id, day=next_weekday(1, min_days=3))
    order_id, member_id = order.id, member.id
    db.commit()
    made: list[int] = []

    def on_sale(order, **kw):
        made.append(order.id)

    events.sale_made.connect(on_sale)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def choose(method):
        with app.app_context():
            session = get_db()
            actor = session.get(User, member_id)
            barrier.wait()
            try:
                billing.choose_payment_method(session, actor, order_id, method)
                outcomes.append("ok")
            except Exception as error:  # noqa: BLE001
                outcomes.append(type(error).__name__)

    threads = [
        threading.Thread(target=choose, args=(m,))
        for m in ("invoice", "on_site", "invoice", "on_site")
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        events.sale_made.disconnect(on_sale)
    assert sorted(outcomes) == ["BookingConflict"] * 3 + ["ok"]
    assert made == [order_id]


def test_plan_purchase_api_by_invoice(api, db, space, member, create_user):
    location, operator, _desk, _plan = space
    pack = Plan(
        name="10er-Karte",
        kind=PlanKind.PACK,
        price_cents=10000,
        days=10,
        valid_days=180,
        location_id=location.id,
        is_active=True,
    )
    membership = Plan(
        name="Mitgliedschaft",
        kind=PlanKind.MEMBERSHIP,
        price_cents=8900,
        days=8,
        location_id=location.id,
        is_active=True,
    )
    db.add_all([pack, membership])
    db.commit()
    client = api(member)
    response = client.post(
        f"/api/v1/plans/{pack.id}/purchase", json={"payment_method": "invoice"}
    )
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["payment_method"] == "invoice" and order["open_cents"] == 10000
    assert order["bank"]["reference"] == str(order["id"])
    assert "checkout" not in order or order["checkout"] is None
    assert client.get(f"/api/v1/orders/{order['id']}").get_json()["status"] == "pending"
    response = client.post(f"/api/v1/orders/{order['id']}/checkout")
    assert response.status_code == 409
    fresh(db)
    assert db.get(Pass, order["pass_id"]).status == PassStatus.ACTIVE
    # A membership is bought by transfer too (renewed monthly: see
    # test_memberships_offline.py); card is not offered without Stripe.
    response = client.post(
        f"/api/v1/plans/{membership.id}/purchase", json={"payment_method": "stripe"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_input"
    response = client.post(
        f"/api/v1/plans/{membership.id}/purchase", json={"payment_method": "invoice"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["payment_method"] == "invoice"
    # Its location's operator sees it; another member does not.
    assert api(operator).get(f"/api/v1/orders/{order['id']}").status_code == 200
    stranger = api(create_user("fremd@example.org"))
    assert stranger.get(f"/api/v1/orders/{order['id']}").status_code == 404


def test_a_paid_transfer_cancelled_is_listed_to_pay_back(client, db, space, member):
    _location, operator, _desk, plan = space
    order = billing.buy_plan(
        db, member, plan.id, day=next_weekday(1, min_days=3), payment_method="invoice"
    )
    billing.record_offline_payment(
        db,
        operator,
        order.id,
        amount_cents=1200,
        kind="bank_transfer",
        paid_on=date.today(),
    )
    billing.cancel_day_pass(db, member, order.pass_id)
    fresh(db)
    assert db.get(Order, order.id).status == OrderStatus.REFUNDED
    _login(client, operator.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get("/billing/payments").get_data(as_text=True)
    assert "Zurückzuzahlen" in page and f"Bestellung {order.id}" in page


def test_above_250_euros_the_buyer_gives_an_address_first(
    client, api, db, space, member
):
    """§ 14 UStG: an invoice above 250 € names the buyer's address (up to
    250 € it may not, § 33 UStDV). A person without one is asked for it
    before the sale; nothing is sold without it."""
    location, _operator, _desk, _plan = space
    big = Plan(
        name="Jahreskarte",
        kind=PlanKind.PACK,
        price_cents=30000,
        days=100,
        valid_days=365,
        location_id=location.id,
        is_active=True,
    )
    db.add(big)
    db.commit()
    # Through the API: refused, naming the field.
    answer = api(member).post(
        f"/api/v1/plans/{big.id}/purchase", json={"payment_method": "invoice"}
    )
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "billing_address"
    assert db.query(Order).filter_by(user_id=member.id).count() == 0

    # On the pages: the order page asks for the address instead of the ways to pay.
    _login(client, member.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    bought = client.post(
        f"/plans/{big.id}/buy", data={"csrf_token": csrf_token(client, "/")}
    )
    assert bought.status_code == 303
    order_page = bought.location
    page = client.get(order_page).get_data(as_text=True)
    assert "Ihre Rechnungsadresse" in page and "Per Überweisung bezahlen" not in page
    order_id = int(re.search(r"/billing/orders/(\d+)", order_page).group(1))
    refused = client.post(
        f"/billing/orders/{order_id}/method",
        data={"payment_method": "invoice", "csrf_token": csrf_token(client, "/")},
    )
    assert refused.status_code == 400
    assert "Rechnungsadresse" in refused.get_data(as_text=True)
    blank = client.post(
        "/account/billing-address",
        data={
            "billing_address": "   ",
            "needed": "1",
            "back": f"/billing/orders/{order_id}",
            "csrf_token": csrf_token(client, "/"),
        },
    )
    assert blank.location == f"/billing/orders/{order_id}"
    page = client.get(order_page).get_data(as_text=True)
    assert "Bitte geben Sie Ihre Rechnungsadresse ein." in page
    assert "Gespeichert" not in page
    saved = client.post(
        "/account/billing-address",
        data={
            "billing_address": "Jana Beispiel\nMarktplatz 1\n04838 Eilenburg",
            "back": f"/billing/orders/{order_id}",
            "csrf_token": csrf_token(client, "/"),
        },
    )
    assert saved.status_code == 303 and saved.location == f"/billing/orders/{order_id}"
    page = client.get(order_page).get_data(as_text=True)
    assert "Ihre Rechnungsadresse" not in page and "Per Überweisung bezahlen" in page
    chosen = client.post(
        f"/billing/orders/{order_id}/method",
        data={"payment_method": "invoice", "csrf_token": csrf_token(client, "/")},
    )
    assert chosen.status_code == 303
    fresh(db)
    assert db.get(Order, order_id).payment_method == PaymentMethod.INVOICE
