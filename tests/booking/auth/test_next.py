"""A visitor's chosen booking survives login and registration (`next`)."""

import pytest

from tests.conftest import csrf_token, next_weekday


@pytest.fixture
def desk(create_location, create_resource):
    location = create_location(name="Alte Schule", slug="alte-schule")
    return create_resource(location, "desk", "Fensterplatz")


def test_visitor_booking_goes_to_login_then_the_confirm_step(client, desk, create_user):
    create_user("m@example.org")
    day = next_weekday(1)
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert 'method="get" action="/bookings/new"' in page
    step = f"/bookings/new?resource_id={desk.id}&date={day.isoformat()}&part=am"
    response = client.get(step)
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")
    login_page = client.get(login_url).get_data(as_text=True)
    assert "Your choice is kept" in login_page
    assert 'href="/register?next=/bookings/new?resource_id' in login_page
    response = client.post(
        login_url,
        data={
            "email": "m@example.org",
            "password": "password123",
            "csrf_token": csrf_token(client, login_url),
        },
    )
    assert response.headers["Location"] == step
    confirm = client.get(step).get_data(as_text=True)
    assert "Fensterplatz" in confirm and "Morning" in confirm
    assert 'name="part" value="am"' in confirm
    assert f'name="date" value="{day.isoformat()}"' in confirm


def test_registration_keeps_next(client, desk, db):
    step = f"/bookings/new?resource_id={desk.id}&date={next_weekday(1).isoformat()}"
    register_url = "/register?next=" + step.replace("?", "%3F").replace("&", "%26")
    response = client.post(
        register_url,
        data={
            "name": "Jana",
            "email": "jana@example.org",
            "password": "geheim-123",
            "csrf_token": csrf_token(client, register_url),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == step


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "javascript:alert(1)",
    ],
)
def test_next_never_leaves_the_site(client, create_user, target):
    create_user("m@example.org")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={
            "email": "m@example.org",
            "password": "password123",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.headers["Location"] == "/"


def test_every_page_offers_registration_to_visitors(client, desk):
    for path in ("/", "/l/alte-schule", "/privacy", "/login"):
        page = client.get(path).get_data(as_text=True)
        assert 'href="/register' in page, path


def test_the_confirm_step_says_when_the_person_already_holds_that_desk(
    client, desk, db, create_user
):
    """Found walking the demo: a second tap on a desk one has just booked
    said "This is no longer free"; it says the person has it."""
    from booking.bookings.models import DayPart
    from booking.bookings.services import BookingRequest, create_booking

    jana = create_user("m@example.org")
    day = next_weekday(1)
    create_booking(
        db, jana, BookingRequest(resource_id=desk.id, on=day, part=DayPart.AM)
    )
    response = client.post(
        "/login",
        data={
            "email": "m@example.org",
            "password": "password123",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.status_code in (302, 303)
    step = f"/bookings/new?resource_id={desk.id}&date={day.isoformat()}"
    for part in ("am", "full"):
        page = client.get(
            f"{step}&part={part}", headers={"Accept-Language": "de"}
        ).get_data(as_text=True)
        assert "Diesen Platz haben Sie an diesem Tag schon gebucht." in page
        assert "nicht mehr frei" not in page
        assert 'action="/bookings"' not in page
    # The afternoon is still free for them: the usual confirm step.
    page = client.get(f"{step}&part=pm").get_data(as_text=True)
    assert "already booked" not in page
    assert 'action="/bookings"' in page


def test_the_confirm_step_says_when_the_day_is_over_or_closed(
    client, desk, db, create_resource, create_user
):
    """Found walking the demo: an old link to a past or closed day said
    "This is no longer free"; it says why the desk cannot be booked."""
    from datetime import date, timedelta

    from booking.spaces.models import Closure

    create_user("m@example.org")
    client.post(
        "/login",
        data={
            "email": "m@example.org",
            "password": "password123",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    other = create_resource(desk.location, "desk", "Ecke")
    closed, desk_closed = next_weekday(1), next_weekday(2)
    db.add(Closure(location_id=desk.location_id, starts_on=closed, ends_on=closed))
    db.add(
        Closure(
            location_id=desk.location_id,
            resource_id=other.id,
            starts_on=desk_closed,
            ends_on=desk_closed,
        )
    )
    db.commit()
    past = date.today() - timedelta(days=1)
    while past.weekday() > 4:  # an opening day
        past -= timedelta(days=1)
    cases = [
        (desk, past, "Diese Zeit ist schon vorbei."),
        (desk, closed, "Alte Schule ist an diesem Tag geschlossen."),
        (other, desk_closed, "Ecke ist an diesem Tag geschlossen."),
    ]
    for resource, day, said in cases:
        page = client.get(
            f"/bookings/new?resource_id={resource.id}&date={day.isoformat()}",
            headers={"Accept-Language": "de"},
        ).get_data(as_text=True)
        assert said in page, day
        assert "nicht mehr frei" not in page
        assert 'action="/bookings"' not in page


def test_login_and_register_name_the_kept_choice(client, desk):
    day = next_weekday(1)
    step = f"/bookings/new?resource_id={desk.id}&date={day.isoformat()}&part=am"
    for page in ("/login", "/register"):
        response = client.get(
            page, query_string={"next": step}, headers={"Accept-Language": "de"}
        )
        text = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Ihre Auswahl bleibt erhalten" in text
        assert "<strong>Fensterplatz</strong> · Alte Schule" in text
        assert f"{day:%d.%m.%Y}" in text and "Vormittag" in text
    # A next naming nothing bookable still says the choice is kept, no error.
    for forged in (
        "/bookings/new?resource_id=99999999999999&date=2026-12-08",
        f"/bookings/new?resource_id={desk.id}&date=kaputt",
        "/bookings/new?resource_id=abc",
    ):
        response = client.get("/login", query_string={"next": forged})
        text = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Your choice is kept" in text and "Fensterplatz" not in text


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"]
)
def test_a_forms_back_field_never_leaves_the_site(
    client, auth, desk, create_user, target
):
    """Every "back" of a form goes through security.local_path, as "next"
    does: a backslash once slipped past the forms' own copies of the check."""
    create_user("b@example.org")
    auth.login("b@example.org")
    token = auth.csrf("/")
    for path, fields in (
        ("/bookings", {"resource_id": "0", "date": "x"}),
        ("/billing/portal", {}),
    ):
        answer = client.post(path, data={**fields, "back": target, "csrf_token": token})
        assert answer.status_code in (302, 303), (path, answer.status_code)
        assert answer.headers["Location"].startswith("/"), (path, answer.headers)
        assert "evil.example" not in answer.headers["Location"], path
