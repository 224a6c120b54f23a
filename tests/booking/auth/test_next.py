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
