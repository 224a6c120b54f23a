"""Several days at once (issue 17 point 3): each day through the one
booking path, in its own unit, refused days said per day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.bookings.models import Booking
from tests.conftest import next_weekday


@pytest.fixture
def desk(create_location, create_resource, create_user):
    location = create_location(create_user(role="operator"), horizon_days=90)
    return create_resource(location, "desk", "Fensterplatz")


def test_every_tuesday_books_the_free_ones_and_says_why_not_for_the_others(
    api, db, desk, create_user
):
    tuesdays = [next_weekday(1) + timedelta(weeks=n) for n in range(8)]
    # Someone else has the third Tuesday already.
    taken = api(create_user()).post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": tuesdays[2].isoformat()},
    )
    assert taken.status_code == 201
    member = create_user()
    answer = api(member).post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "dates": [d.isoformat() for d in tuesdays]},
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert [b["date"] for b in body["bookings"]] == [
        d.isoformat() for d in tuesdays if d != tuesdays[2]
    ]
    assert body["refused"] == [
        {
            "date": tuesdays[2].isoformat(),
            "error": "conflict",
            "message": "This is already booked for that time.",
        }
    ]
    assert db.query(Booking).filter_by(user_id=member.id).count() == 7


def test_a_day_beyond_the_horizon_is_refused_alone(api, desk, create_user):
    near = next_weekday(2)
    far = near + timedelta(days=120)
    answer = api(create_user()).post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "dates": [far.isoformat(), near.isoformat()]},
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert [b["date"] for b in body["bookings"]] == [near.isoformat()]
    [refusal] = body["refused"]
    assert refusal["date"] == far.isoformat()
    assert refusal["error"] == "invalid_input"


def test_none_booked_is_a_409_with_every_day(api, desk, create_user):
    day = next_weekday(3)
    client = api(create_user())
    assert (
        client.post(
            "/api/v1/bookings", json={"resource_id": desk.id, "date": day.isoformat()}
        ).status_code
        == 201
    )
    other = api(create_user()).post(
        "/api/v1/bookings", json={"resource_id": desk.id, "dates": [day.isoformat()]}
    )
    assert other.status_code == 409
    body = other.get_json()
    assert body["error"] == "conflict"
    assert body["refused"] == [
        {
            "date": day.isoformat(),
            "error": "conflict",
            "message": "This is already booked for that time.",
        }
    ]


def test_the_refusals_are_in_the_callers_language(api, desk, create_user):
    day = next_weekday(3)
    api(create_user()).post(
        "/api/v1/bookings", json={"resource_id": desk.id, "date": day.isoformat()}
    )
    client = api(create_user())
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    body = client.post(
        "/api/v1/bookings", json={"resource_id": desk.id, "dates": [day.isoformat()]}
    ).get_json()
    assert body["refused"][0]["message"] == "Das ist zu dieser Zeit schon gebucht."


@pytest.mark.parametrize(
    "extra",
    [
        {"dates": []},
        {"dates": ["2030-01-01"] * 32},
        {"dates": ["2030-01-01"], "date": "2030-01-02"},
        {"dates": ["01.02.2030"]},
        {"dates": "2030-01-01"},
    ],
)
def test_bad_dates_are_refused_and_nothing_is_booked(api, db, desk, create_user, extra):
    answer = api(create_user()).post(
        "/api/v1/bookings", json={"resource_id": desk.id, **extra}
    )
    assert answer.status_code == 400
    assert db.query(Booking).count() == 0


def test_a_series_for_a_guest(api, desk, create_user):
    days = [next_weekday(1), next_weekday(2)]
    body = (
        api(create_user())
        .post(
            "/api/v1/bookings",
            json={
                "resource_id": desk.id,
                "dates": [d.isoformat() for d in days],
                "guest": {"name": "Gisela Gast", "email": "g@example.org"},
            },
        )
        .get_json()
    )
    assert [b["guest"]["name"] for b in body["bookings"]] == ["Gisela Gast"] * 2


def test_a_member_finds_several_days_and_guests_from_the_location_page(
    client, auth, desk, create_user
):
    """Members book a desk in one tap; the way to a series or a guest booking
    is a link to the confirm step with the series open."""
    create_user("mia@example.org", name="Mia")
    auth.login("mia@example.org")
    client.set_cookie("lang", "de")
    day = next_weekday(1)
    page = client.get(f"/l/{desk.location.slug}?date={day.isoformat()}").get_data(
        as_text=True
    )
    link = (
        f"/bookings/new?resource_id={desk.id}&amp;date={day.isoformat()}&amp;repeat=1"
    )
    assert "Mehrere Tage oder für einen Gast" in page and link in page
    confirm = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert '<details class="more-days" open>' in confirm
    assert 'name="guest_name"' in confirm


def test_the_web_form_redirects_to_the_outcome_so_a_reload_books_nothing_again(
    client, auth, db, desk, create_user
):
    """Post/redirect/get: the result page is a GET that shows the outcome
    again; reloading it neither books nor refuses anything."""
    create_user("mia@example.org", name="Mia")
    create_user("tim@example.org", name="Tim")
    auth.login("mia@example.org")
    first = next_weekday(1)
    sent = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": first.isoformat(),
            "repeat": "weekly",
            "count": "3",
            "csrf_token": auth.csrf("/"),
        },
    )
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith("/bookings/series")
    before = db.query(Booking).count()
    for _ in range(2):  # the page, then a reload
        page = client.get("/bookings/series").get_data(as_text=True)
        assert "3 days booked" in page and "not booked" not in page
        assert page.count('class="booking confirmed"') == 3
    assert db.query(Booking).count() == before == 3

    # A day cancelled since is shown so, and no longer counted as booked;
    # its cancel step, opened again, says it is cancelled instead of asking.
    first_booking = db.query(Booking).order_by(Booking.starts_at).first()
    client.post(
        f"/bookings/{first_booking.id}/cancel",
        data={"csrf_token": auth.csrf("/")},
    )
    page = client.get("/bookings/series").get_data(as_text=True)
    assert "2 days booked" in page and page.count('class="booking cancelled"') == 1
    step = client.get(f"/bookings/{first_booking.id}/cancel").get_data(as_text=True)
    assert "<h1>Booking cancelled</h1>" in step and "No, keep it" not in step

    # Another member's session has no outcome to show, nor Mia's bookings.
    auth.logout()
    auth.login("tim@example.org")
    other = client.get("/bookings/series")
    assert other.status_code == 302 and other.headers["Location"].endswith("/bookings")


def test_a_refused_confirm_step_comes_back_with_what_was_typed(
    client, auth, desk, create_user
):
    create_user("mia@example.org", name="Mia")
    auth.login("mia@example.org")
    day = next_weekday(1)
    step = f"/bookings/new?resource_id={desk.id}&date={day.isoformat()}"
    answer = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "repeat": "weekly",
            "count": "0",
            "guest_name": "Gisela Gast",
            "guest_email": "gisela-at-example",
            "step": step,
            "back": f"/l/{desk.location.slug}",
            "csrf_token": auth.csrf("/"),
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"] == step
    page = client.get(step).get_data(as_text=True)
    assert "Enter how many days or weeks (1 to 31)." in page
    assert '<details class="more-days" open>' in page
    assert (
        'value="weekly" checked' in page
        and 'name="count" min="1" max="31" value="0"' in page
    )
    assert 'value="Gisela Gast"' in page and 'value="gisela-at-example"' in page
    # Shown once: the next visit of the step starts afresh.
    assert 'value="Gisela Gast"' not in client.get(step).get_data(as_text=True)


def test_days_in_a_row_count_the_days_the_space_opens(
    client, auth, db, desk, create_user
):
    """Three days in a row from a Friday, at a space open Monday to Friday,
    are Friday, Monday and Tuesday (the walk found "1 day booked, Saturday
    and Sunday closed"). A closure on one of them is still refused and
    said."""
    create_user("mia@example.org", name="Mia")
    auth.login("mia@example.org")
    friday = next_weekday(4)
    assert not desk.location.opening_hours.get("sat")
    sent = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": friday.isoformat(),
            "repeat": "daily",
            "count": "3",
            "csrf_token": auth.csrf("/"),
        },
    )
    assert sent.status_code == 303
    page = client.get("/bookings/series").get_data(as_text=True)
    assert "3 days booked" in page and "not booked" not in page
    db.commit()  # a fresh read, after the request's writes
    booked = sorted(b.booked_on for b in db.query(Booking))
    assert booked == [friday, friday + timedelta(days=3), friday + timedelta(days=4)]
