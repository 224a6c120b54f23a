"""Operator pages: plans, members, ledgers, payments; each operator sees only
their own locations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.billing import services as billing
from booking.bookings.services import BookingRequest, create_booking
from booking.passes import services as passes
from booking.passes.models import CreditEntry, Pass, PassStatus, Plan
from tests.conftest import next_weekday
from tests.support.billing_helpers import fresh


@pytest.fixture
def two(db, create_user, create_location, create_resource):
    """Two locations run by two operators, each with a plan, a member's pass
    and a payment waiting."""
    made = {}
    for key in ("a", "b"):
        operator = create_user(f"op-{key}@example.org", role="operator")
        location = create_location(operator, name=f"Ort {key.upper()}")
        desk = create_resource(location, "desk")
        desk.price_day_cents = 1500
        db.commit()
        plan = passes.create_plan(
            db,
            operator,
            {
                "kind": "membership",
                "name": f"Flex {key.upper()}",
                "price": "40",
                "days": "4",
                "location_id": location.id,
            },
        )
        member = create_user(f"member-{key}@example.org")
        pass_ = passes.new_pass(plan, user_id=member.id, today=datetime.now(UTC).date())
        pass_.status = PassStatus.ACTIVE if key == "a" else PassStatus.PAST_DUE
        pass_.grace_until = datetime.now(UTC) - timedelta(days=1)
        db.add(pass_)
        db.commit()
        booking = create_booking(
            db,
            create_user(f"guest-{key}@example.org"),
            BookingRequest(desk.id, on=next_weekday(2, min_days=3)),
        )
        order = billing.order_for_booking(db, booking.id)
        made[key] = {
            "operator": operator,
            "location": location,
            "plan": plan.id,
            "pass": pass_.id,
            "payment": order.payments[-1].id,
        }
    return made


def test_the_console_links_to_the_billing_pages(client, auth, two):
    auth.login("op-a@example.org")
    page = client.get("/manage/").get_data(as_text=True)
    for path in ("/operator/plans", "/operator/members", "/billing/payments"):
        assert f'href="{path}"' in page
        assert client.get(path).status_code == 200


def test_operators_see_only_their_plans_members_and_payments(client, auth, two):
    auth.login("op-a@example.org")
    plans = client.get("/operator/plans").get_data(as_text=True)
    assert "Flex A" in plans and "Flex B" not in plans
    # In German the plan reads in words and its price as typed there.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    plans = client.get("/operator/plans").get_data(as_text=True)
    assert "4 Schreibtisch-Tage · Im Angebot" in plans
    assert 'name="price" inputmode="decimal" value="40,00"' in plans
    saved = client.post(
        f"/operator/plans/{two['a']['plan']}",
        data={
            "csrf_token": auth.csrf("/operator/plans"),
            "name": "Flex A",
            "price": "39,50",
            "days": "4",
            "is_active": "1",
        },
    )
    assert saved.status_code == 303
    plans = client.get("/operator/plans").get_data(as_text=True)
    assert "Ort A · 39,50" in plans and 'value="39,50"' in plans
    del client.environ_base["HTTP_ACCEPT_LANGUAGE"]
    members = client.get("/operator/members").get_data(as_text=True)
    assert "member-a@example.org" in members
    assert "member-b@example.org" not in members
    # Who booked at the operator's location is listed, without a pass too,
    # and nobody who booked only at another location.
    people = members[members.index("People who book here") :]
    assert "guest-a@example.org" in people and "guest-b@example.org" not in people
    assert ">active<" in members
    # Each pass is opened by its plan's name, not by a bare number.
    assert f'/operator/passes/{two["a"]["pass"]}">Flex A</a>' in members
    assert not re.search(r">\s*\d+\s*</a>", members)
    payments = client.get("/billing/payments").get_data(as_text=True)
    assert "guest-a@example.org" in payments
    assert "guest-b@example.org" not in payments
    assert "€15.00" in payments
    auth.logout()
    auth.login("op-b@example.org")
    members = client.get("/operator/members").get_data(as_text=True)
    assert ">suspended<" in members  # past due, grace over


@pytest.mark.parametrize(
    "method,path,data",
    [
        ("get", "/operator/passes/{pass}", None),
        ("post", "/operator/passes/{pass}", {"days": "3", "reason": "Goodwill"}),
        ("post", "/operator/plans/{plan}", {"name": "Mine now", "price": "1"}),
        ("post", "/billing/payments/{payment}/refund", {"reason": "because"}),
    ],
)
def test_another_locations_objects_are_forbidden(
    db, client, auth, two, method, path, data
):
    other = two["b"]
    auth.login("op-a@example.org")
    url = path.format(**other)
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, data={**data, "csrf_token": auth.csrf()})
    assert response.status_code == 403
    fresh(db)
    assert db.get(Plan, other["plan"]).name == "Flex B"
    assert db.scalar(select(CreditEntry)) is None
    # Nothing that does not exist either: 404.
    missing = path.format(**{"pass": 9999, "plan": 9999, "payment": 9999})
    if method == "get":
        assert client.get(missing).status_code == 404
    else:
        assert (
            client.post(missing, data={**data, "csrf_token": auth.csrf()}).status_code
            == 404
        )


def test_members_cannot_open_operator_pages(client, auth, two):
    auth.login("member-a@example.org")
    for path in ("/operator/plans", "/operator/members", "/billing/payments"):
        assert client.get(path).status_code == 403
    assert client.get(f"/operator/passes/{two['a']['pass']}").status_code == 403


def test_manual_grants_need_a_reason_and_are_kept_with_who_gave_them(
    db, client, auth, two
):
    mine = two["a"]
    auth.login("op-a@example.org")
    url = f"/operator/passes/{mine['pass']}"
    response = client.post(
        url, data={"days": "2", "reason": "", "csrf_token": auth.csrf()}
    )
    assert "Say why" in client.get(response.location).get_data(as_text=True)
    response = client.post(
        url,
        data={"days": "2", "reason": "Heizung ausgefallen", "csrf_token": auth.csrf()},
    )
    assert response.status_code == 303
    fresh(db)
    (entry,) = db.scalars(select(CreditEntry)).all()
    assert (entry.delta, entry.reason) == (2, "Heizung ausgefallen")
    assert entry.actor.email == "op-a@example.org"
    assert (
        passes.remaining(db, db.get(Pass, mine["pass"]), datetime.now(UTC).date()) == 6
    )
    page = client.get(url).get_data(as_text=True)
    assert "Heizung ausgefallen" in page and "op-a@example.org" in page


def test_an_operator_edits_and_withdraws_their_plan(db, client, auth, two):
    mine = two["a"]
    auth.login("op-a@example.org")
    response = client.post(
        f"/operator/plans/{mine['plan']}",
        data={
            "name": "Flex A+",
            "price": "45,50",
            "days": "6",
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    fresh(db)
    plan = db.get(Plan, mine["plan"])
    assert (plan.name, plan.price_cents, plan.days, plan.is_active) == (
        "Flex A+",
        4550,
        6,
        False,  # the "on sale" box was not ticked
    )
    # The pass already sold keeps its four days.
    assert db.get(Pass, mine["pass"]).credits == 4
    assert "Flex A+" not in client.get("/plans").get_data(as_text=True)
    response = client.post(
        f"/operator/plans/{mine['plan']}",
        data={"price": "zwölf", "is_active": "1", "csrf_token": auth.csrf()},
    )
    assert "Enter an amount like 12.50." in client.get(response.location).get_data(
        as_text=True
    )
