"""Fixed-desk memberships: a desk of one's own, assigned by an operator.

Others cannot book it, availability shows it taken, the member's doors open
in opening hours without a booking, and the desk is free again once the
membership ends (the Stripe subscription is cancelled at the emulator).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from booking.access import rules
from booking.access.services import check_access, create_door
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.queries import free_desks_today, location_day
from booking.bookings.services import BookingRequest, cancel_booking, create_booking
from booking.errors import BookingConflict, Forbidden, InvalidInput
from booking.passes import fixed_desks, queries
from booking.passes import services as passes
from booking.passes.models import Pass, PassStatus, Standing
from booking.spaces.hours import local_instant
from booking.spaces.models import Resource
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh


@pytest.fixture
def location(create_location):
    return create_location(horizon_days=60, cancel_cutoff_hours=0)


@pytest.fixture
def operator(location):
    return location.operators[0]


@pytest.fixture
def desks(location, create_resource, db):
    made = [create_resource(location, "desk", f"Platz {n}") for n in (1, 2)]
    for desk in made:
        desk.price_day_cents = 1500
    db.commit()
    return made


@pytest.fixture
def member(create_user):
    return create_user("fiona@example.org")


@pytest.fixture
def plan(db, operator, location):
    return passes.create_plan(
        db,
        operator,
        {
            "kind": "membership",
            "name": "Fester Platz",
            "price": "189",
            "days": "5",  # ignored: the desk is the member's every day
            "fixed_desk": "1",
            "location_id": location.id,
        },
    )


def _active_pass(db, plan, user) -> Pass:
    """A membership as the subscription webhook leaves it (the Stripe path
    itself is covered by test_membership_end_frees_the_desk)."""
    pass_ = passes.new_pass(
        plan, user_id=user.id, today=datetime.now().date(), status=PassStatus.ACTIVE
    )
    db.add(pass_)
    db.commit()
    return pass_


def _book(db, user, desk, day):
    return create_booking(db, user, BookingRequest(desk.id, on=day))


def test_a_fixed_desk_plan_belongs_to_one_location_and_has_no_day_limit(
    db, plan, create_user
):
    assert plan.fixed_desk and plan.days is None
    admin = create_user(role="admin")
    with pytest.raises(InvalidInput) as error:
        passes.create_plan(
            db,
            admin,
            {"kind": "membership", "name": "Netz", "price": "99", "fixed_desk": "1"},
        )
    assert error.value.field == "location_id"
    pack = passes.create_plan(
        db,
        admin,
        {
            "kind": "pack",
            "name": "10er",
            "price": "100",
            "days": 10,
            "valid_days": 90,
            "fixed_desk": "1",
        },
    )
    assert not pack.fixed_desk


def test_others_cannot_book_a_fixed_desk_the_holder_can(
    db, plan, desks, member, operator, create_user
):
    pass_ = _active_pass(db, plan, member)
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[0].id)
    fresh(db)
    day = next_weekday(1, min_days=2)
    other = create_user("otto@example.org")
    with pytest.raises(BookingConflict) as error:
        _book(db, other, desks[0], day)
    assert "fixed desk" in str(error.value.message)
    # Not even an operator booking for someone else.
    with pytest.raises(BookingConflict):
        create_booking(
            db, operator, BookingRequest(desks[0].id, on=day, holder_id=other.id)
        )
    assert db.scalar(select(func.count(Booking.id))) == 0
    # The other desk stays bookable; the holder may book their own desk too
    # (the membership pays it).
    # (held for payment: the other member has no membership)
    assert _book(db, other, desks[1], day).status == BookingStatus.PENDING_PAYMENT
    own = _book(db, member, desks[0], day + timedelta(days=7))
    assert own.status == BookingStatus.CONFIRMED and own.settled_by == "credit"


def test_availability_and_free_count_show_the_fixed_desk_taken(
    db, api, plan, desks, member, operator, location
):
    pass_ = _active_pass(db, plan, member)
    day = next_weekday(2, min_days=2)
    noon = local_instant(day, 12 * 60, ZoneInfo(location.timezone))
    assert free_desks_today(db, [location], now=noon)[location.id] == 2
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[0].id)
    fresh(db)
    entries = {e.resource.id: e for e in location_day(db, location, day).resources}
    assert entries[desks[0].id].fixed_for == member.id
    assert not any(entries[desks[0].id].parts.values())
    assert entries[desks[1].id].fixed_for is None and entries[desks[1].id].parts
    assert free_desks_today(db, [location], now=noon)[location.id] == 1
    body = (
        api()
        .get(f"/api/v1/locations/{location.id}/availability?date={day.isoformat()}")
        .get_json()
    )
    shown = {r["id"]: r for r in body["resources"]}
    assert shown[desks[0].id]["fixed_desk"] is True
    assert shown[desks[0].id]["free"] == [] and shown[desks[0].id]["booked"]
    assert shown[desks[1].id]["fixed_desk"] is False


def test_assigning_refuses_what_it_must_and_changes_nothing(
    db,
    plan,
    desks,
    member,
    operator,
    location,
    create_location,
    create_resource,
    create_user,
):
    pass_ = _active_pass(db, plan, member)
    elsewhere = create_location()
    foreign_desk = create_resource(elsewhere, "desk")
    flex = create_resource(location, "flex", capacity=4)
    for resource_id in (foreign_desk.id, flex.id, 999_999):
        with pytest.raises(InvalidInput):
            fixed_desks.assign_fixed_desk(db, operator, pass_.id, resource_id)
    # The operator of another location may not touch this membership.
    with pytest.raises(Forbidden):
        fixed_desks.assign_fixed_desk(db, elsewhere.operators[0], pass_.id, desks[0].id)
    # Someone else's upcoming booking of the desk: cancel or move it first.
    other = create_user("otto@example.org")
    booking = _book(db, other, desks[1], next_weekday(3, min_days=2))
    with pytest.raises(BookingConflict) as error:
        fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[1].id)
    assert "1 upcoming" in str(error.value.message)
    cancel_booking(db, other, booking.id)
    # A desk that is another live member's.
    rival = _active_pass(db, plan, other)
    fixed_desks.assign_fixed_desk(db, operator, rival.id, desks[1].id)
    with pytest.raises(BookingConflict):
        fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[1].id)
    fresh(db)
    assert db.get(Resource, desks[1].id).fixed_pass_id == rival.id
    assert queries.fixed_desk_of(db, db.get(Pass, pass_.id)) is None
    # A plan without a desk.
    flexible = passes.create_plan(
        db,
        operator,
        {
            "kind": "membership",
            "name": "Flex",
            "price": "49",
            "days": "4",
            "location_id": location.id,
        },
    )
    flex_pass = _active_pass(db, flexible, member)
    with pytest.raises(InvalidInput):
        fixed_desks.assign_fixed_desk(db, operator, flex_pass.id, desks[0].id)
    # Moving and releasing.
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[0].id)
    assert queries.fixed_desk_of(db, db.get(Pass, pass_.id)).id == desks[0].id
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, None)
    fresh(db)
    assert db.get(Resource, desks[0].id).fixed_pass_id is None


def test_the_fixed_desk_opens_the_door_in_opening_hours_without_a_booking(
    db, plan, desks, member, operator, location
):
    door, _secret = create_door(
        db, operator, location.id, {"name": "Eingang", "kind": "landdesk"}
    )
    pass_ = _active_pass(db, plan, member)
    day = next_weekday(1, min_days=1)
    tz = ZoneInfo(location.timezone)
    noon = local_instant(day, 12 * 60, tz)
    assert check_access(db, member, door, noon).reason == rules.NO_BOOKING
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[0].id)
    fresh(db)
    decision = check_access(db, member, door, noon)
    assert decision.allowed and decision.reason == rules.FIXED_DESK
    assert not check_access(db, member, door, local_instant(day, 19 * 60, tz)).allowed
    # Overdue beyond the grace period: the desk stays reserved, the door shut.
    pass_ = db.get(Pass, pass_.id)
    pass_.status = PassStatus.PAST_DUE
    pass_.grace_until = noon - timedelta(hours=1)
    db.commit()
    assert pass_.standing(noon) == Standing.SUSPENDED
    assert check_access(db, member, door, noon).reason == rules.SUSPENDED
    assert queries.fixed_holders(db, [db.get(Resource, desks[0].id)])


def test_membership_end_frees_the_desk(
    db, plan, desks, member, operator, create_user, stripe_emulator, webhooks
):
    pass_ = buy_and_pay(db, member, plan.id, stripe_emulator, webhooks)
    assert pass_.status == PassStatus.ACTIVE and pass_.stripe_subscription_id
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[0].id)
    day = next_weekday(4, min_days=2)
    other = create_user("otto@example.org")
    with pytest.raises(BookingConflict):
        _book(db, other, desks[0], day)
    stripe_emulator.request(
        "DELETE", f"/v1/subscriptions/{pass_.stripe_subscription_id}"
    )
    webhooks.deliver()
    fresh(db)
    assert db.get(Pass, pass_.id).status == PassStatus.CANCELLED
    assert db.get(Resource, desks[0].id).fixed_pass_id is None
    assert _book(db, other, desks[0], day).status == BookingStatus.PENDING_PAYMENT


def test_switching_to_a_plan_without_a_desk_releases_it(
    db, plan, desks, member, operator, location
):
    pass_ = _active_pass(db, plan, member)
    pass_.stripe_subscription_id = "sub_switch"
    db.commit()
    fixed_desks.assign_fixed_desk(db, operator, pass_.id, desks[0].id)
    flexible = passes.create_plan(
        db,
        operator,
        {
            "kind": "membership",
            "name": "Flex",
            "price": "49",
            "days": "4",
            "location_id": location.id,
        },
    )
    passes.apply_subscription(
        db,
        {"id": "sub_switch", "status": "active", "metadata": {"plan_id": flexible.id}},
        now=datetime.now().astimezone(),
    )
    db.commit()
    fresh(db)
    assert db.get(Pass, pass_.id).plan_id == flexible.id
    assert db.get(Resource, desks[0].id).fixed_pass_id is None


def test_operator_page_assigns_the_desk_and_the_phone_page_shows_it(
    db, client, auth, plan, desks, member, operator, location, create_user
):
    pass_ = _active_pass(db, plan, member)
    auth.login(operator.email)
    page = client.get(f"/operator/passes/{pass_.id}").get_data(as_text=True)
    assert "Platz 1" in page and f"/operator/passes/{pass_.id}/fixed-desk" in page
    refused = client.post(
        f"/operator/passes/{pass_.id}/fixed-desk", data={"resource_id": desks[0].id}
    )
    assert refused.status_code == 400  # no CSRF token
    fresh(db)
    assert db.get(Resource, desks[0].id).fixed_pass_id is None
    done = client.post(
        f"/operator/passes/{pass_.id}/fixed-desk",
        data={
            "resource_id": desks[0].id,
            "csrf_token": auth.csrf(f"/operator/passes/{pass_.id}"),
        },
        follow_redirects=True,
    )
    assert "Platz 1 is now this member" in done.get_data(as_text=True)
    fresh(db)
    assert db.get(Resource, desks[0].id).fixed_pass_id == pass_.id
    auth.logout()
    day = next_weekday(2, min_days=2).isoformat()
    auth.login(member.email)
    mine = client.get(f"/l/{location.slug}?date={day}").get_data(as_text=True)
    assert "Your fixed desk: no booking needed." in mine
    assert "your fixed desk: Platz 1" in mine
    auth.logout()
    create_user("otto@example.org")
    auth.login("otto@example.org")
    theirs = client.get(f"/l/{location.slug}?date={day}").get_data(as_text=True)
    assert "A member's fixed desk" in html.unescape(theirs)
    assert "Your fixed desk" not in theirs
