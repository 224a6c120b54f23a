"""Companies set up by an operator (issue 18 point 6): the company's
administrator is invited by e-mail without an account, and the operator sets
the plan and monthly budget directly (invoiced monthly, no card checkout)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from booking.auth.models import User
from booking.bookings.services import BookingRequest, create_booking
from booking.passes import services as passes
from booking.passes.models import Company, Pass, PassStatus
from tests.conftest import csrf_token, next_weekday
from tests.support.billing_helpers import fresh


@pytest.fixture
def location(create_location):
    return create_location(horizon_days=60)


@pytest.fixture
def plan(db, location):
    return passes.create_plan(
        db,
        location.operators[0],
        {
            "kind": "company",
            "name": "Verwaltung",
            "price": "300",
            "days": "10",
            "location_id": location.id,
        },
    )


def test_operator_creates_company_invites_admin_and_sets_budget(
    client, auth, db, location, plan, smtp, create_resource, create_user
):
    desk = create_resource(location, "desk", "Desk 1")
    desk.price_day_cents = 1500
    db.commit()
    operator = location.operators[0]
    auth.login(operator.email)
    page = client.get("/operator/companies").get_data(as_text=True)
    assert "No account needed" in page and "Verwaltung" in page
    response = client.post(
        "/operator/companies",
        data={
            "name": "Gemeinde Thallwitz",
            "admin_email": "buergermeisterin@thallwitz.example",
            "admin_name": "Frau Kern",
            "location_id": location.id,
            "plan_id": plan.id,
            "days": "4",
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    fresh(db)
    company = db.scalar(select(Company).where(Company.name == "Gemeinde Thallwitz"))
    admin = db.get(User, company.admin_user_id)
    assert admin.email == "buergermeisterin@thallwitz.example"
    assert company.billing_email == admin.email
    [budget] = db.scalars(select(Pass).where(Pass.company_id == company.id))
    assert budget.status == PassStatus.ACTIVE and budget.credits == 4
    assert budget.stripe_subscription_id is None
    mail = smtp.wait_for_message()
    assert mail["To"] == admin.email
    text = mail.get_content()
    assert "Gemeinde Thallwitz" in text
    link = re.search(r"http://localhost/welcome/\S+", text).group(0)

    # The operator raises the budget; days already used still count.
    employee = create_user("jan@thallwitz.example")
    passes.add_employee(db, operator, company.id, employee)
    day = next_weekday(2)
    create_booking(db, employee, BookingRequest(desk.id, on=day))
    assert passes.remaining(db, budget, day) == 3
    changed = client.post(
        f"/companies/{company.id}/budget",
        data={"plan_id": plan.id, "days": "6", "csrf_token": auth.csrf()},
    )
    assert changed.status_code == 303
    fresh(db)
    assert db.scalars(select(Pass).where(Pass.company_id == company.id)).all() == [
        budget
    ]
    assert passes.remaining(db, db.get(Pass, budget.id), day) == 5

    # The invited administrator sets a password and sees the company.
    auth.logout()
    path = link.split("localhost", 1)[1]
    token = csrf_token(client, path)
    done = client.post(
        path,
        data={"password": "gemeinde-1", "confirm": "gemeinde-1", "csrf_token": token},
    )
    assert done.status_code == 303
    assert client.get(f"/companies/{company.id}").status_code == 200
    # ...but the budget is the operators' to set.
    refused = client.post(
        f"/companies/{company.id}/budget",
        data={"plan_id": plan.id, "days": "99", "csrf_token": auth.csrf()},
    )
    assert refused.status_code == 403


def test_budget_rules(db, location, plan, create_location, create_user):
    operator = location.operators[0]
    boss = create_user("boss@example.org")
    company = passes.create_company(
        db, operator, name="Firma", admin=boss, location_id=location.id
    )
    from booking.errors import Forbidden, InvalidInput

    for days in (0, 1001):
        with pytest.raises(InvalidInput):
            passes.set_company_budget(
                db,
                operator,
                company.id,
                plan_id=plan.id,
                days=days,
                today=plan.created_at.date(),
            )
    other = create_location()
    with pytest.raises(Forbidden):
        passes.set_company_budget(
            db,
            other.operators[0],
            company.id,
            plan_id=plan.id,
            days=3,
            today=plan.created_at.date(),
        )
    budget = passes.set_company_budget(
        db,
        operator,
        company.id,
        plan_id=plan.id,
        days=None,
        today=plan.created_at.date(),
    )
    assert budget.credits == 10  # as in the plan


def test_without_a_company_plan_the_page_says_how_to_get_one(
    client, auth, db, location, smtp
):
    operator = location.operators[0]
    company = passes.create_company(
        db,
        operator,
        name="Agrar GmbH",
        admin_email="chefin@agrar.example.org",
        setup_url=lambda token: f"http://x/welcome/{token}",
        network_name="Netz",
        location_id=location.id,
    )
    auth.login(operator.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert f'action="/companies/{company.id}/budget"' not in page
    assert "braucht es zuerst einen Firmentarif" in page
    assert 'href="/operator/plans#new-plan"' in page
