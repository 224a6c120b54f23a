"""The /api/v1 contract that phone apps and integrations rely on."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import next_weekday

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def operator(create_user):
    return create_user("op@example.org", role="operator")


@pytest.fixture
def space(create_location, create_resource, operator):
    location = create_location(operator, horizon_days=60)
    desk = create_resource(location, "desk", "Desk 1", tags=["monitor"])
    room = create_resource(location, "room", "Room", capacity=6)
    return location, desk, room


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) >= {"error", "message"}
    assert body["message"]
    if code:
        assert body["error"] == code
    return body


def test_token_login_and_me(client, create_user):
    create_user("m@example.org", name="Mia")
    response = client.post(
        "/api/v1/auth/token", json={"email": "m@example.org", "password": "password123"}
    )
    assert response.status_code == 200
    token = response.get_json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    body = me.get_json()
    assert (
        body["email"] == "m@example.org"
        and body["name"] == "Mia"
        and body["roles"] == ["member"]
    )
    assert isinstance(body["id"], int)


def test_bad_credentials_get_401(client, create_user):
    create_user("m@example.org")
    assert_error(
        client.post(
            "/api/v1/auth/token", json={"email": "m@example.org", "password": "nope"}
        ),
        401,
        "unauthorized",
    )
    assert_error(
        client.post(
            "/api/v1/auth/token",
            json={"email": "ghost@example.org", "password": "nope"},
        ),
        401,
    )


def test_token_dies_on_logout(client, create_user):
    create_user("m@example.org")
    token = client.post(
        "/api/v1/auth/token", json={"email": "m@example.org", "password": "password123"}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert_error(client.get("/api/v1/me", headers=headers), 401)


def test_me_needs_login(client):
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")
    assert_error(
        client.get("/api/v1/me", headers={"Authorization": "Bearer forged"}), 401
    )
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)


def test_web_session_works_for_the_api(client, auth, create_user):
    create_user("m@example.org")
    auth.login("m@example.org")
    assert client.get("/api/v1/me").get_json()["email"] == "m@example.org"


def test_session_api_calls_need_the_csrf_header_and_json_bodies(
    client, auth, create_user, space
):
    """A cross-site form (urlencoded) cannot use the session cookie to book."""
    _, desk, _ = space
    create_user("m@example.org")
    auth.login("m@example.org")
    form = {"resource_id": desk.id, "date": next_weekday(1).isoformat()}
    assert_error(client.post("/api/v1/bookings", data=form), 403)
    # With the page's token, the body must still be JSON.
    headers = auth.api_headers()
    assert_error(client.post("/api/v1/bookings", data=form, headers=headers), 400)
    response = client.post("/api/v1/bookings", json=form, headers=headers)
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/api/v1/auth/logout", "/api/v1/me/calendar/revoke"])
def test_cross_site_empty_posts_with_the_cookie_are_refused(
    client, auth, create_user, path
):
    create_user("m@example.org")
    auth.login("m@example.org")
    response = client.post(
        path,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
        },
    )
    assert_error(response, 403)
    assert client.get("/api/v1/me").status_code == 200  # still logged in
    response = client.post(path, headers=auth.api_headers())
    assert response.status_code in (200, 204)


def test_session_token_of_another_login_is_refused(app, client, auth, create_user):
    create_user("m@example.org")
    auth.login("m@example.org")
    other = app.test_client()
    type(auth)(other).login("m@example.org")
    response = client.post(
        "/api/v1/auth/logout", headers=type(auth)(other).api_headers()
    )
    assert_error(response, 403)


def test_list_locations_is_public(client, space):
    location, _, _ = space
    response = client.get("/api/v1/locations")
    assert response.status_code == 200
    (item,) = response.get_json()
    assert {"id", "slug", "name", "address", "lat", "lon", "timezone"} <= set(item)
    assert item["id"] == location.id and item["timezone"] == "Europe/Berlin"


def test_create_location_defaults(api, operator):
    response = api(operator).post(
        "/api/v1/locations",
        json={
            "name": "Dorfladen",
            "slug": "dorfladen",
            "address": "Hauptstr. 1",
            "lat": 51.3,
            "lon": 12.7,
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["opening_hours"]["mon"] == [["08:00", "18:00"]]
    assert body["opening_hours"]["sat"] == [] and body["opening_hours"]["sun"] == []
    assert body["horizon_days"] >= 30
    assert body["timezone"] == "Europe/Berlin"
    # the creator runs it
    assert (
        api(operator)
        .post(
            f"/api/v1/locations/{body['id']}/resources",
            json={"name": "D", "kind": "desk", "capacity": 1},
        )
        .status_code
        == 201
    )


def test_create_location_with_hours_and_timezone(api, operator):
    hours = {
        "mon": [["07:00", "12:00"], ["13:00", "24:00"]],
        "sat": [["10:00", "14:00"]],
    }
    response = api(operator).post(
        "/api/v1/locations",
        json={
            "name": "X",
            "slug": "x",
            "address": "A",
            "lat": 1,
            "lon": 2,
            "timezone": "Europe/Vienna",
            "opening_hours": hours,
            "operator_model": "retreat",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (
        body["opening_hours"]["mon"] == hours["mon"]
        and body["opening_hours"]["tue"] == []
    )
    assert body["operator_model"] == "retreat" and body["timezone"] == "Europe/Vienna"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lon": "east"}, "lon"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"opening_hours": {"mon": [["18:00", "08:00"]]}}, "opening_hours"),
        ({"operator_model": "castle"}, "operator_model"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_location_bad_input(api, operator, db, patch, field):
    from booking.spaces.models import Location

    values = {"name": "X", "slug": "x", "address": "A", "lat": 1, "lon": 2, **patch}
    body = assert_error(
        api(operator).post("/api/v1/locations", json=values), 400, "invalid_input"
    )
    assert body["field"] == field
    assert db.query(Location).count() == 0


def test_duplicate_slug(api, operator, space):
    location, _, _ = space
    body = assert_error(
        api(operator).post(
            "/api/v1/locations",
            json={
                "name": "X",
                "slug": location.slug,
                "address": "A",
                "lat": 1,
                "lon": 2,
            },
        ),
        400,
    )
    assert body["field"] == "slug"


def test_members_cannot_create_locations(api, create_user):
    assert_error(
        api(create_user()).post(
            "/api/v1/locations",
            json={"name": "X", "slug": "x", "address": "A", "lat": 1, "lon": 2},
        ),
        403,
    )
    assert_error(api().post("/api/v1/locations", json={}), 401)


def test_operator_cannot_touch_another_operators_location(api, space, create_user):
    location, desk, _ = space
    rival = create_user(role="operator")
    client = api(rival)
    assert_error(
        client.patch(f"/api/v1/locations/{location.id}", json={"name": "Mine now"}), 403
    )
    assert_error(
        client.post(
            f"/api/v1/locations/{location.id}/resources",
            json={"name": "D", "kind": "desk"},
        ),
        403,
    )
    assert_error(
        client.patch(f"/api/v1/resources/{desk.id}", json={"name": "Mine"}), 403
    )
    assert_error(
        client.post(
            f"/api/v1/locations/{location.id}/closures",
            json={"starts_on": next_weekday(1).isoformat()},
        ),
        403,
    )
    assert_error(client.get(f"/api/v1/locations/{location.id}/bookings"), 403)
    assert (
        client.get(f"/api/v1/locations/{location.id}").get_json()["name"]
        == location.name
    )


def test_admin_manages_every_location(api, space, create_user):
    location, _, _ = space
    admin = create_user(role="admin")
    response = api(admin).patch(
        f"/api/v1/locations/{location.id}", json={"horizon_days": 90}
    )
    assert response.status_code == 200 and response.get_json()["horizon_days"] == 90


@pytest.mark.parametrize("kind", ["desk", "room", "booth", "flex"])
def test_create_each_resource_kind(api, operator, space, kind):
    location, _, _ = space
    capacity = 1 if kind == "desk" else 4
    response = api(operator).post(
        f"/api/v1/locations/{location.id}/resources",
        json={
            "name": kind,
            "kind": kind,
            "capacity": capacity,
            "tags": ["Quiet", "monitor", "quiet "],
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (
        body["kind"] == kind
        and body["capacity"] == capacity
        and isinstance(body["id"], int)
    )
    # As spelt, once each whatever the case.
    assert body["tags"] == ["monitor", "Quiet"]


@pytest.mark.parametrize(
    "values",
    [
        {"name": "X", "kind": "sofa"},
        {"name": "X", "kind": "flex", "capacity": 0},
        {"name": "X", "kind": "desk", "capacity": 3},
        {"kind": "desk"},
        {"name": "X", "kind": "desk", "tags": "a" * 10 and [1, 2]},
    ],
)
def test_bad_resources_are_refused(api, operator, space, values):
    location, _, _ = space
    assert_error(
        api(operator).post(f"/api/v1/locations/{location.id}/resources", json=values),
        400,
    )


def test_unknown_location_is_404(api, operator):
    assert_error(
        api(operator).post(
            "/api/v1/locations/9999/resources", json={"name": "D", "kind": "desk"}
        ),
        404,
        "not_found",
    )
    assert_error(api().get("/api/v1/locations/9999/availability?date=2026-01-01"), 404)


def test_book_a_desk_and_see_it(api, create_user, space):
    _, desk, _ = space
    member = create_user()
    client = api(member)
    day = next_weekday(1)
    response = client.post(
        "/api/v1/bookings", json={"resource_id": desk.id, "date": day.isoformat()}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert {"id", "resource_id", "start", "end", "status"} <= set(body)
    assert body["status"] == "confirmed" and body["resource_id"] == desk.id
    start = datetime.fromisoformat(body["start"].replace("Z", "+00:00")).astimezone(
        BERLIN
    )
    assert (start.date(), start.hour) == (day, 8)
    listed = client.get("/api/v1/bookings").get_json()
    assert [b["id"] for b in listed] == [body["id"]]


def test_book_half_days(api, create_user, space):
    _, desk, _ = space
    day = next_weekday(1).isoformat()
    am = api(create_user()).post(
        "/api/v1/bookings", json={"resource_id": desk.id, "date": day, "part": "am"}
    )
    pm = api(create_user()).post(
        "/api/v1/bookings", json={"resource_id": desk.id, "date": day, "part": "pm"}
    )
    assert am.status_code == pm.status_code == 201
    assert am.get_json()["end"] == pm.get_json()["start"]
    assert_error(
        api(create_user()).post(
            "/api/v1/bookings", json={"resource_id": desk.id, "date": day}
        ),
        409,
        "conflict",
    )


def test_book_a_room_by_the_hour_with_offsets(api, create_user, space):
    _, _, room = space
    day = next_weekday(2)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN)
    response = api(create_user()).post(
        "/api/v1/bookings",
        json={
            "resource_id": room.id,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
        },
    )
    assert response.status_code == 201
    # the same hours in UTC notation collide
    utc_start = start.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    clash = api(create_user()).post(
        "/api/v1/bookings",
        json={
            "resource_id": room.id,
            "start": utc_start,
            "end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    body = assert_error(clash, 409, "conflict")
    assert "booked" in body["message"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({}, "resource_id"),
        ({"resource_id": "abc", "date": "2030-01-01"}, "resource_id"),
        ({"resource_id": 1}, "date"),
        ({"resource_id": 1, "date": "31.12.2030"}, "date"),
        ({"resource_id": 1, "date": "2030-01-01", "part": "evening"}, "part"),
        ({"resource_id": 1, "start": "2030-01-01T10:00"}, "end"),
        (
            {"resource_id": 1, "start": "2030-01-01T10:00", "end": "2030-01-01T11:00"},
            "start",
        ),
        (
            {"resource_id": 1, "date": "2030-01-01", "start": "2030-01-01T10:00+01:00"},
            "date",
        ),
    ],
)
def test_bad_booking_requests(api, create_user, space, db, values, field):
    from booking.bookings.models import Booking

    body = assert_error(
        api(create_user()).post("/api/v1/bookings", json=values), 400, "invalid_input"
    )
    assert body["field"] == field
    assert db.query(Booking).count() == 0


def test_booking_needs_a_json_object(api, create_user):
    client = api(create_user())
    assert_error(
        client.post("/api/v1/bookings", data="[1,2]", content_type="application/json"),
        400,
    )
    assert_error(
        client.post(
            "/api/v1/bookings", data="not json", content_type="application/json"
        ),
        400,
    )


def test_booking_unknown_resource_is_404(api, create_user):
    assert_error(
        api(create_user()).post(
            "/api/v1/bookings",
            json={"resource_id": 424242, "date": next_weekday(1).isoformat()},
        ),
        404,
    )


def test_cancel_own_booking(api, create_user, space):
    _, desk, _ = space
    client = api(create_user())
    booking = client.post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": next_weekday(1).isoformat()},
    ).get_json()
    response = client.delete(f"/api/v1/bookings/{booking['id']}")
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert_error(client.delete(f"/api/v1/bookings/{booking['id']}"), 409)
    # the desk is free again
    again = api(create_user()).post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": next_weekday(1).isoformat()},
    )
    assert again.status_code == 201


def test_members_cannot_see_or_cancel_others_bookings(api, create_user, space):
    _, desk, _ = space
    owner = api(create_user())
    booking = owner.post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": next_weekday(1).isoformat()},
    ).get_json()
    intruder = api(create_user())
    assert_error(intruder.get(f"/api/v1/bookings/{booking['id']}"), 404)
    assert_error(intruder.delete(f"/api/v1/bookings/{booking['id']}"), 404)
    assert intruder.get("/api/v1/bookings").get_json() == []
    assert (
        owner.get(f"/api/v1/bookings/{booking['id']}").get_json()["status"]
        == "confirmed"
    )


def test_operator_sees_and_cancels_bookings_of_their_location(
    api, create_user, operator, space
):
    location, desk, _ = space
    member = create_user()
    day = next_weekday(1)
    booking = (
        api(member)
        .post(
            "/api/v1/bookings", json={"resource_id": desk.id, "date": day.isoformat()}
        )
        .get_json()
    )
    day_list = (
        api(operator)
        .get(f"/api/v1/locations/{location.id}/bookings?date={day.isoformat()}")
        .get_json()
    )
    assert [b["id"] for b in day_list] == [booking["id"]]
    assert day_list[0]["member"]["email"] == member.email
    assert api(operator).delete(f"/api/v1/bookings/{booking['id']}").status_code == 200


def test_operator_books_for_member_by_email(api, create_user, operator, space):
    _, desk, _ = space
    member = create_user("guest@example.org")
    response = api(operator).post(
        "/api/v1/bookings",
        json={
            "resource_id": desk.id,
            "date": next_weekday(1).isoformat(),
            "member_email": "guest@example.org",
        },
    )
    assert response.status_code == 201 and response.get_json()["user_id"] == member.id
    assert_error(
        api(create_user()).post(
            "/api/v1/bookings",
            json={
                "resource_id": desk.id,
                "date": next_weekday(2).isoformat(),
                "user_id": member.id,
            },
        ),
        403,
    )


@pytest.mark.parametrize("email", ["guest@example.org", "nobody@example.org"])
def test_member_booking_for_someone_else_is_forbidden_whether_or_not_they_exist(
    api, client, auth, create_user, space, email
):
    _, desk, _ = space
    create_user("guest@example.org")
    member = create_user("m@example.org")
    body = {
        "resource_id": desk.id,
        "date": next_weekday(1).isoformat(),
        "member_email": email,
    }
    answer = assert_error(api(member).post("/api/v1/bookings", json=body), 403)
    assert "e-mail" not in answer["message"]
    # The web form says the same for both.
    auth.login("m@example.org")
    response = client.post(
        "/bookings", data={**body, "back": "/", "csrf_token": auth.csrf()}
    )
    assert response.status_code == 303
    page = client.get("/").get_data(as_text=True)
    assert "Only the location&#39;s operators can book for others." in page
    assert "no member with this e-mail" not in page
    # Booking "for" oneself by one's own address stays allowed.
    own = api(member).post(
        "/api/v1/bookings", json={**body, "member_email": "M@example.org"}
    )
    assert own.status_code == 201 and own.get_json()["user_id"] == member.id


@pytest.mark.parametrize("email", ["guest@example.org", "nobody@example.org"])
def test_operator_of_another_location_cannot_probe_addresses(
    api, create_user, create_location, space, email
):
    _, desk, _ = space
    create_user("guest@example.org")
    elsewhere = create_user("other-op@example.org", role="operator")
    create_location(operator=elsewhere)
    body = {
        "resource_id": desk.id,
        "date": next_weekday(1).isoformat(),
        "member_email": email,
    }
    answer = assert_error(api(elsewhere).post("/api/v1/bookings", json=body), 403)
    assert "e-mail" not in answer["message"]


def test_availability_lists_free_and_booked_periods(api, create_user, space):
    location, desk, room = space
    day = next_weekday(1)
    api(create_user()).post(
        "/api/v1/bookings",
        json={"resource_id": desk.id, "date": day.isoformat(), "part": "am"},
    )
    start = datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN)
    api(create_user()).post(
        "/api/v1/bookings",
        json={
            "resource_id": room.id,
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    body = (
        api()
        .get(f"/api/v1/locations/{location.id}/availability?date={day.isoformat()}")
        .get_json()
    )
    assert body["open"] is True and body["date"] == day.isoformat()
    by_id = {r["id"]: r for r in body["resources"]}
    assert by_id[desk.id]["free_seats"] == {"am": 0, "pm": 1, "full": 0}
    assert len(by_id[desk.id]["booked"]) == 1
    assert len(by_id[desk.id]["free"]) == 1  # the afternoon
    room_free = by_id[room.id]["free"]
    assert len(room_free) == 2  # 08-09 and 10-18
    assert by_id[room.id]["booked"][0]["seats"] == 1


def test_availability_on_closed_days(api, operator, space):
    location, _, _ = space
    sunday = next_weekday(6)
    body = (
        api()
        .get(f"/api/v1/locations/{location.id}/availability?date={sunday.isoformat()}")
        .get_json()
    )
    assert body["open"] is False
    assert all(r["closed"] for r in body["resources"])
    monday = next_weekday(0)
    api(operator).post(
        f"/api/v1/locations/{location.id}/closures",
        json={"starts_on": monday.isoformat(), "reason": "Betriebsferien"},
    )
    body = (
        api()
        .get(f"/api/v1/locations/{location.id}/availability?date={monday.isoformat()}")
        .get_json()
    )
    assert body["open"] is False and body["closed_reason"] == "Betriebsferien"


def test_availability_needs_a_valid_date(api, space):
    location, _, _ = space
    assert_error(api().get(f"/api/v1/locations/{location.id}/availability"), 400)
    assert_error(
        api().get(f"/api/v1/locations/{location.id}/availability?date=tomorrow"), 400
    )


def test_closures_can_be_listed_and_removed(api, operator, space):
    location, desk, _ = space
    day = next_weekday(3)
    created = api(operator).post(
        f"/api/v1/locations/{location.id}/closures",
        json={
            "starts_on": day.isoformat(),
            "ends_on": (day + timedelta(days=2)).isoformat(),
            "resource_id": desk.id,
            "reason": "Neue Lampe",
        },
    )
    assert created.status_code == 201
    listed = api().get(f"/api/v1/locations/{location.id}/closures").get_json()
    assert [c["id"] for c in listed] == [created.get_json()["id"]]
    assert_error(
        api(operator).post(
            f"/api/v1/locations/{location.id}/closures",
            json={
                "starts_on": day.isoformat(),
                "ends_on": (day - timedelta(days=1)).isoformat(),
            },
        ),
        400,
    )
    assert (
        api(operator).delete(f"/api/v1/closures/{created.get_json()['id']}").status_code
        == 204
    )
    assert api().get(f"/api/v1/locations/{location.id}/closures").get_json() == []


def test_free_desks_today_in_location_list(api, create_user, space, create_resource):
    location, desk, _ = space
    create_resource(location, "flex", capacity=3)
    item = api().get("/api/v1/locations").get_json()[0]
    today = datetime.now(BERLIN).date()
    if today.weekday() < 5 and datetime.now(BERLIN).hour < 18:
        assert item["free_desks_today"] == 4
    else:
        assert item["free_desks_today"] is None


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {
        (path, method)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    assert routes - documented == set(), "undocumented API routes"
    assert documented - routes == set(), "documented routes that do not exist"
    for ref_holder in [spec["components"]["schemas"]]:
        assert "Booking" in ref_holder and "Error" in ref_holder


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(client.put("/api/v1/me"), 405)


def test_past_date(api, create_user, space):
    _, desk, _ = space
    body = assert_error(
        api(create_user()).post(
            "/api/v1/bookings",
            json={
                "resource_id": desk.id,
                "date": (date.today() - timedelta(days=7)).isoformat(),
            },
        ),
        400,
    )
    assert body["field"] == "date"


def test_admin_assigns_operators(api, create_user, space):
    location, _, _ = space
    admin = create_user(role="admin")
    newcomer = create_user("new-op@example.org", role="operator")
    url = f"/api/v1/locations/{location.id}/operators"
    response = api(admin).put(url, json={"emails": ["new-op@example.org"]})
    assert response.status_code == 200
    assert response.get_json()["emails"] == ["new-op@example.org"]
    # the newcomer runs it now, the former operator no longer does
    assert (
        api(newcomer)
        .patch(f"/api/v1/locations/{location.id}", json={"horizon_days": 40})
        .status_code
        == 200
    )
    assert_error(
        api(location.operators[0]).patch(
            f"/api/v1/locations/{location.id}", json={"horizon_days": 41}
        ),
        403,
    )


def test_only_admins_assign_operators(api, create_user, operator, space):
    location, _, _ = space
    url = f"/api/v1/locations/{location.id}/operators"
    assert_error(api(operator).put(url, json={"emails": [operator.email]}), 403)
    admin = create_user(role="admin")
    member = create_user("member@example.org")
    body = assert_error(api(admin).put(url, json={"emails": [member.email]}), 400)
    assert body["field"] == "operators"
    assert_error(api(admin).put(url, json={"emails": "op@example.org"}), 400)
