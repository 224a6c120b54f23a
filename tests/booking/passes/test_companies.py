"""Company accounts: an employer's monthly desk-day budget, drawn by employees."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.billing import services as billing
from booking.billing.models import BillingCustomer, Order, Payment
from booking.bookings.models import BookingStatus
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import Forbidden
from booking.passes import services as passes
from booking.passes.models import Company, Pass, PassStatus
from tests.conftest import next_weekday
from tests.support.billing_helpers import fresh, weekdays


@pytest.fixture
def location(create_location):
    return create_location(cancel_cutoff_hours=24, horizon_days=60)


@pytest.fixture
def desks(location, create_resource, db):
    made = [create_resource(location, "desk", name=f"Desk {n}") for n in (1, 2)]
    for desk in made:
        desk.price_day_cents = 1500
    db.commit()
    return made


@pytest.fixture
def people(create_user):
    return {
        "boss": create_user("chefin@gemeinde.example", name="Chefin"),
        "jan": create_user("jan@gemeinde.example"),
        "eva": create_user("eva@gemeinde.example"),
    }


def _company_with_budget(
    db, client, auth, location, people, stripe_emulator, webhooks, *, days=3
):
    operator = location.operators[0]
    auth.login(operator.email)
    response = client.post(
        "/operator/companies",
        data={
            "name": "Gemeinde Thallwitz",
            "admin_email": people["boss"].email,
            "billing_email": "kasse@gemeinde.example",
            "location_id": location.id,
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    company = db.scalar(select(Company).where(Company.name == "Gemeinde Thallwitz"))
    assert company.location_id == location.id
    plan = passes.create_plan(
        db,
        operator,
        {
            "kind": "company",
            "name": "Verwaltung 3",
            "price": "300",
            "days": str(days),
            "location_id": location.id,
        },
    )
    auth.logout()
    # Only the company's administrator buys its budget.
    with pytest.raises(Forbidden):
        billing.buy_plan(db, operator, plan.id, company_id=company.id)
    fresh(db)
    auth.login(people["boss"].email)
    response = client.post(
        f"/plans/{plan.id}/buy",
        data={"company_id": company.id, "csrf_token": auth.csrf()},
    )
    assert response.status_code == 303
    assert "/billing/orders/" in response.location, client.get(
        response.location
    ).get_data(as_text=True)
    fresh(db)
    order = db.scalar(select(Order).where(Order.company_id == company.id))
    response = client.post(
        f"/billing/orders/{order.id}/pay", data={"csrf_token": auth.csrf()}
    )
    assert response.status_code == 303
    session_id = response.location.rsplit("/", 1)[1]
    assert stripe_emulator.pay(session_id)["status"] == "complete"
    webhooks.deliver()
    fresh(db)
    return company, db.get(Order, order.id)


def _add(client, auth, company, email):
    return client.post(
        f"/companies/{company.id}", data={"email": email, "csrf_token": auth.csrf()}
    )


def test_budget_drawn_by_two_employees_then_they_pay(
    db, client, auth, location, desks, people, stripe_emulator, webhooks
):
    company, order = _company_with_budget(
        db, client, auth, location, people, stripe_emulator, webhooks
    )
    budget = db.get(Order, order.id).pass_id
    assert passes.company_passes(db, company.id, next_weekday(0))[0][0].status == (
        PassStatus.ACTIVE
    )
    # The employer's admin invites two employees (they have accounts).
    assert _add(client, auth, company, "jan@gemeinde.example").status_code == 303
    assert _add(client, auth, company, "eva@gemeinde.example").status_code == 303
    response = _add(client, auth, company, "nobody@example.org")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "There is no member with this e-mail address." in page
    fresh(db)
    assert [u.email for u in passes.employees(db, company.id)] == [
        "eva@gemeinde.example",
        "jan@gemeinde.example",
    ]

    d1, d2, d3 = weekdays(next_weekday(0, min_days=3), 3)
    jan, eva = people["jan"], people["eva"]
    jan_first = create_booking(db, jan, BookingRequest(desks[0].id, on=d1))
    assert jan_first.status == BookingStatus.CONFIRMED
    assert create_booking(db, eva, BookingRequest(desks[1].id, on=d1)).status == (
        BookingStatus.CONFIRMED
    )
    assert create_booking(db, jan, BookingRequest(desks[0].id, on=d2)).status == (
        BookingStatus.CONFIRMED
    )
    # Budget exhausted: Eva's next day is hers to pay, and she is told why.
    over = create_booking(db, eva, BookingRequest(desks[1].id, on=d3))
    assert over.status == BookingStatus.PENDING_PAYMENT
    auth.logout()
    auth.login(eva.email)
    waiting = billing.order_for_booking(db, over.id)
    page = client.get(f"/billing/orders/{waiting.id}").get_data(as_text=True)
    assert "None of your passes covers this booking" in page
    assert "0 days left in your company" in page, page
    auth.logout()

    # The admin sees who used what.
    auth.login(people["boss"].email)
    month = d1.strftime("%Y-%m")
    page = client.get(f"/companies/{company.id}?month={month}").get_data(as_text=True)
    assert "jan@gemeinde.example</td><td>2 days" in page
    assert "eva@gemeinde.example</td><td>1 day" in page
    assert f"0 days left in {d1:%B %Y}" in page  # "December 2026", never "2026-12"
    usage = dict(
        (u.email, n)
        for u, n in passes.company_usage(db, company.id, d1.strftime("%Y-%m"))
    )
    assert usage == {"jan@gemeinde.example": 2, "eva@gemeinde.example": 1}

    # Removed: Jan no longer draws on the budget, Eva still does.
    cancel_booking(db, eva, over.id)
    fresh(db)
    response = client.post(
        f"/companies/{company.id}",
        data={"remove_user_id": jan.id, "csrf_token": auth.csrf()},
    )
    assert response.status_code == 303
    fresh(db)
    assert [u.email for u in passes.employees(db, company.id)] == [
        "eva@gemeinde.example"
    ]
    cancel_booking(db, jan, jan_first.id)  # a day goes back to the budget
    assert passes.remaining(db, db.get(Pass, budget), d1) == 1
    assert create_booking(db, jan, BookingRequest(desks[0].id, on=d3)).status == (
        BookingStatus.PENDING_PAYMENT
    )
    assert create_booking(db, eva, BookingRequest(desks[1].id, on=d3)).status == (
        BookingStatus.CONFIRMED
    )


def test_one_invoice_goes_to_the_company(
    db, client, auth, location, desks, people, stripe_emulator, webhooks
):
    company, order = _company_with_budget(
        db, client, auth, location, people, stripe_emulator, webhooks
    )
    customer = db.scalar(
        select(BillingCustomer).where(BillingCustomer.company_id == company.id)
    )
    stripe_customer = stripe_emulator.request(
        "GET", f"/v1/customers/{customer.stripe_customer_id}"
    )
    assert stripe_customer["name"] == "Gemeinde Thallwitz"
    assert stripe_customer["email"] == "kasse@gemeinde.example"
    invoices = stripe_emulator.request(
        "GET", f"/v1/invoices?customer={customer.stripe_customer_id}"
    )["data"]
    assert [i["amount_due"] for i in invoices] == [30000]
    # Employees drawing on the budget get no Stripe customer of their own.
    _add(client, auth, company, "jan@gemeinde.example")
    create_booking(
        db, people["jan"], BookingRequest(desks[0].id, on=next_weekday(1, min_days=3))
    )
    fresh(db)
    assert (
        db.scalar(
            select(BillingCustomer).where(BillingCustomer.user_id == people["jan"].id)
        )
        is None
    )
    # The first invoice is recorded on the company's order, not twice.
    payments = db.scalars(
        select(Payment).join(Order).where(Order.company_id == company.id)
    ).all()
    assert len(payments) == 1
    assert payments[0].stripe_invoice_id == invoices[0]["id"]


def test_company_pages_are_private(
    db,
    client,
    auth,
    location,
    people,
    create_user,
    create_location,
    stripe_emulator,
    webhooks,
):
    company, _ = _company_with_budget(
        db, client, auth, location, people, stripe_emulator, webhooks
    )
    _add(client, auth, company, "jan@gemeinde.example")
    auth.logout()
    other_operator = create_user("other-op@example.org", role="operator")
    create_location(other_operator)
    for email in ("jan@gemeinde.example", other_operator.email):
        auth.login(email)
        assert client.get(f"/companies/{company.id}").status_code == 404
        page = client.get("/operator/companies").get_data(as_text=True)
        assert "Gemeinde Thallwitz" not in page
        auth.logout()
    auth.login(location.operators[0].email)
    assert client.get(f"/companies/{company.id}").status_code == 200
    assert "Gemeinde Thallwitz" in client.get("/operator/companies").get_data(
        as_text=True
    )
    # An operator cannot open an account for a location they do not run.
    fresh(db)
    with pytest.raises(Forbidden):
        passes.create_company(
            db,
            other_operator,
            name="Fremd GmbH",
            admin=people["eva"],
            location_id=location.id,
        )
