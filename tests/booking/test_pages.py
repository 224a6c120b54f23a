"""The server-rendered pages: booking by form, operator console, legal pages."""

import re
from datetime import timedelta

import pytest

from booking.db import utcnow
from booking.spaces.hours import local_date
from tests.conftest import day_strip, next_weekday


@pytest.fixture
def space(create_location, create_resource, create_user):
    operator = create_user("op@example.org", role="operator")
    location = create_location(operator, name="Alte Schule", slug="alte-schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    room = create_resource(location, "room", "Lehrerzimmer")
    return location, desk, room


def test_network_page_lists_locations_with_free_desks(client, space):
    page = client.get("/").get_data(as_text=True)
    assert "Alte Schule" in page
    assert 'href="/l/alte-schule"' in page


def test_location_page_offers_one_tap_booking(client, auth, create_user, space, db):
    from booking.bookings.models import Booking

    _, desk, _ = space
    create_user("m@example.org")
    auth.login("m@example.org")
    day = next_weekday(1)
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert "Fensterplatz" in page and "Full day" in page and "Morning" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "csrf_token": token,
            "back": f"/l/alte-schule?date={day}",
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == "/bookings"
    booking = db.query(Booking).one()
    assert booking.resource_id == desk.id
    mine = client.get("/bookings").get_data(as_text=True)
    assert "Fensterplatz" in mine and "confirmed" in mine
    # the desk now shows as booked
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert "booked" in page


def test_room_booking_by_form_with_duration(client, auth, create_user, space, db):
    from booking.bookings.models import Booking

    _, _, room = space
    create_user("m@example.org")
    auth.login("m@example.org")
    day = next_weekday(2)
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    start = re.search(r'<option value="([^"]+T10:00:00[^"]*)"', page).group(1)
    response = client.post(
        "/bookings",
        data={
            "resource_id": room.id,
            "start": start,
            "duration": "90",
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    booking = db.query(Booking).one()
    assert (booking.ends_at - booking.starts_at).total_seconds() == 90 * 60


def test_booking_form_conflict_shows_message_and_books_nothing(
    client, auth, create_user, space, db
):
    from booking.bookings.models import Booking
    from booking.bookings.services import BookingRequest, create_booking

    _, desk, _ = space
    day = next_weekday(1)
    create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    create_user("m@example.org")
    auth.login("m@example.org")
    back = f"/l/alte-schule?date={day.isoformat()}"
    response = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "csrf_token": auth.csrf(),
            "back": back,
        },
    )
    assert response.status_code == 303 and response.headers["Location"] == back
    page = client.get(back).get_data(as_text=True)
    assert "already booked" in page
    assert db.query(Booking).count() == 1


def test_booking_form_without_csrf_is_refused(client, auth, create_user, space, db):
    from booking.bookings.models import Booking

    _, desk, _ = space
    create_user("m@example.org")
    auth.login("m@example.org")
    response = client.post(
        "/bookings", data={"resource_id": desk.id, "date": next_weekday(1).isoformat()}
    )
    assert response.status_code == 400
    assert db.query(Booking).count() == 0


def test_booking_needs_login(client, space):
    _, desk, _ = space
    response = client.post("/bookings", data={"resource_id": desk.id})
    # CSRF is checked first for anonymous posts too; either way nothing is booked
    assert response.status_code in (302, 400)


def test_cancel_from_my_bookings(client, auth, create_user, space, db):
    from booking.bookings.models import Booking, BookingStatus
    from booking.bookings.services import BookingRequest, create_booking

    _, desk, _ = space
    member = create_user("m@example.org")
    booking = create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    auth.login("m@example.org")
    page = client.get("/bookings").get_data(as_text=True)
    assert f"/bookings/{booking.id}/cancel" in page
    response = client.post(
        f"/bookings/{booking.id}/cancel", data={"csrf_token": auth.csrf()}
    )
    assert response.status_code == 303
    db.rollback()  # end the read snapshot
    db.expire_all()
    assert db.get(Booking, booking.id).status == BookingStatus.CANCELLED


def test_cannot_cancel_someone_elses_booking_from_the_page(
    client, auth, create_user, space, db
):
    from booking.bookings.models import Booking, BookingStatus
    from booking.bookings.services import BookingRequest, create_booking

    _, desk, _ = space
    booking = create_booking(
        db, create_user(), BookingRequest(desk.id, on=next_weekday(1))
    )
    create_user("m@example.org")
    auth.login("m@example.org")
    response = client.post(
        f"/bookings/{booking.id}/cancel", data={"csrf_token": auth.csrf()}
    )
    assert response.status_code == 404
    db.rollback()  # end the read snapshot
    db.expire_all()
    assert db.get(Booking, booking.id).status == BookingStatus.CONFIRMED


def test_every_page_links_imprint_and_privacy(client, space):
    for path in (
        "/",
        "/l/alte-schule",
        "/login",
        "/register",
        "/imprint",
        "/privacy",
        "/nowhere",
    ):
        page = client.get(path).get_data(as_text=True)
        assert 'href="/imprint"' in page and 'href="/privacy"' in page, path


def test_admin_sets_network_name_and_legal_pages(client, auth, create_user):
    create_user("admin@example.org", role="admin")
    auth.login("admin@example.org")
    response = client.post(
        "/manage/network",
        data={
            "name": "Muldenland",
            "contact_email": "hallo@example.org",
            "imprint": "Demo e. V.\nMarkt 1",
            "privacy": "Wir speichern wenig.",
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    assert "Demo e. V.<br>Markt 1" in client.get("/imprint").get_data(as_text=True)
    assert "Muldenland" in client.get("/").get_data(as_text=True)


def test_operators_cannot_change_network_settings(client, auth, create_user):
    create_user("op@example.org", role="operator")
    auth.login("op@example.org")
    assert client.get("/manage/network").status_code == 403


def test_operator_console_shows_only_own_locations(
    client, auth, create_user, create_location, space
):
    location, _, _ = space
    rival = create_user("rival@example.org", role="operator")
    other = create_location(rival, name="Rivalen-Raum", slug="rival")
    auth.login("op@example.org")
    page = client.get("/manage/").get_data(as_text=True)
    assert "Alte Schule" in page and "Rivalen-Raum" not in page
    assert client.get(f"/manage/locations/{other.id}").status_code == 403
    assert client.get(f"/manage/locations/{other.id}/day").status_code == 403
    assert client.get(f"/manage/locations/{location.id}/day").status_code == 200


def test_members_cannot_open_the_console(client, auth, create_user):
    create_user("m@example.org")
    auth.login("m@example.org")
    assert client.get("/manage/").status_code == 403


def test_operator_creates_location_and_resources_by_form(client, auth, create_user, db):
    from booking.spaces.models import Location

    create_user("op@example.org", role="operator")
    auth.login("op@example.org")
    token = auth.csrf("/manage/locations/new")
    form = {
        "name": "Dorfladen",
        "slug": "dorfladen",
        "village": "Thallwitz",
        "address": "Hauptstr. 2",
        "lat": "51.43",
        "lon": "12.68",
        "timezone": "Europe/Berlin",
        "operator_model": "village_centre",
        "hours_mon": "08:00-12:00, 13:00-18:00",
        "hours_sat": "10:00-14:00",
        "horizon_days": "45",
        "cancel_cutoff_hours": "2",
        "midday": "12:30",
        "is_active": "on",
        "csrf_token": token,
    }
    response = client.post("/manage/locations/new", data=form)
    assert response.status_code == 303
    location = db.query(Location).one()
    assert location.opening_hours["mon"] == [["08:00", "12:00"], ["13:00", "18:00"]]
    assert location.opening_hours["tue"] == []
    assert location.horizon_days == 45 and location.midday == "12:30"
    response = client.post(
        f"/manage/locations/{location.id}/resources",
        data={
            "name": "Ecke",
            "kind": "flex",
            "capacity": "4",
            "tags": "quiet, monitor",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    assert "Added" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.rollback()  # end the read snapshot
    db.expire_all()
    assert [
        (r.kind, r.capacity, r.tags) for r in db.get(Location, location.id).resources
    ] == [("flex", 4, ["monitor", "quiet"])]


def test_location_form_shows_error_next_to_field_and_keeps_input(
    client, auth, create_user, db
):
    from booking.spaces.models import Location

    create_user("op@example.org", role="operator")
    auth.login("op@example.org")
    token = auth.csrf("/manage/locations/new")
    response = client.post(
        "/manage/locations/new",
        data={
            "name": "Dorfladen",
            "slug": "dorfladen",
            "address": "A",
            "lat": "99",
            "lon": "12",
            "hours_mon": "8-18",
            "csrf_token": token,
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "field-error" in page and 'value="Dorfladen"' in page
    assert db.query(Location).count() == 0


def _book_from_day_view(client, auth, location, day, **fields):
    """Post the operator day view's booking form; returns (answer, day view)."""
    back = f"/manage/locations/{location.id}/day?date={day.isoformat()}"
    answer = client.post(
        "/bookings",
        data={
            "date": day.isoformat(),
            "back": back,
            "csrf_token": auth.csrf(),
            **fields,
        },
    )
    return answer, back


def test_operator_day_view_and_book_for_member(client, auth, create_user, space, db):
    from booking.bookings.models import Booking

    location, desk, _ = space
    member = create_user("guest@example.org", name="Gast")
    auth.login("op@example.org")
    day = next_weekday(1)
    response, back = _book_from_day_view(
        client, auth, location, day, resource_id=desk.id, member_email=member.email
    )
    assert response.status_code == 303 and response.headers["Location"] == back
    assert db.query(Booking).one().user_id == member.id
    page = client.get(back).get_data(as_text=True)
    assert "Booked for Gast: " in page
    assert "Gast" in page and "guest@example.org" in page
    # Who booked here is suggested the next time (a datalist, no typing from
    # memory); the operator's own guests are not people to suggest.
    other_day = client.get(back.replace(day.isoformat(), next_weekday(3).isoformat()))
    page = other_day.get_data(as_text=True)
    suggestions = page[page.index('<datalist id="regulars">') :]
    suggestions = suggestions[: suggestions.index("</datalist>")]
    assert '<option value="guest@example.org">Gast</option>' in suggestions
    assert "op@example.org" not in suggestions

    # In German, the day as My bookings writes it ("Di., 08.12.2026").
    client.set_cookie("lang", "de")
    response, back = _book_from_day_view(
        client,
        auth,
        location,
        day + timedelta(days=1),
        resource_id=desk.id,
        member_email=member.email,
    )
    weekday = ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")[
        (day + timedelta(days=1)).weekday()
    ]
    page = client.get(back).get_data(as_text=True)
    assert (
        f"Gebucht für Gast: Fensterplatz am {weekday}, "
        f"{day + timedelta(days=1):%d.%m.%Y}." in page
    )


def test_booking_for_a_member_who_has_a_desk_names_the_member(
    client, auth, create_user, create_resource, space, db
):
    """The refusal speaks of the member, not of "you" (the operator)."""
    from booking.bookings.services import BookingRequest, create_booking

    location, desk, _ = space
    other_desk = create_resource(location, "desk", "Tür")
    member = create_user("jana@example.org", name="Jana")
    day = next_weekday(1)
    create_booking(db, member, BookingRequest(desk.id, on=day))
    auth.login("op@example.org")
    response, back = _book_from_day_view(
        client,
        auth,
        location,
        day,
        resource_id=other_desk.id,
        for_someone="1",
        member_email=member.email,
    )
    assert response.status_code == 303
    page = client.get(back).get_data(as_text=True)
    assert "Jana already has a desk booked at that time." in page


def test_the_day_views_form_books_nobody_without_an_address(client, auth, space, db):
    """An operator who leaves the member's address empty (and names no guest)
    is told so; the desk is not booked for the operator."""
    from booking.bookings.models import Booking

    location, desk, _ = space
    auth.login("op@example.org")
    day = next_weekday(1)
    response, back = _book_from_day_view(
        client,
        auth,
        location,
        day,
        resource_id=desk.id,
        for_someone="1",
        member_email=" ",
        guest_name="",
        guest_email="",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{back}&at=book#book"
    assert db.query(Booking).count() == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enter the member&#39;s e-mail address" in page
    assert 'name="for_someone"' in page  # the form says what it is for


def test_closure_by_form_blocks_the_day(client, auth, space, db):
    location, _, _ = space
    auth.login("op@example.org")
    day = next_weekday(1)
    response = client.post(
        f"/manage/locations/{location.id}/closures",
        data={
            "starts_on": day.isoformat(),
            "ends_on": day.isoformat(),
            "reason": "Dorffest",
            "csrf_token": auth.csrf(),
        },
    )
    assert response.status_code == 303
    page = client.get(f"/l/alte-schule?date={day.isoformat()}").get_data(as_text=True)
    assert "Dorffest" in page and "Full day" not in page
    # Closed: the day's opening hours are not shown above it.
    assert "Opening hours" not in page


def test_location_page_is_small(client, space, create_resource):
    location, _, _ = space
    for n in range(20):
        create_resource(location, "desk", f"Desk {n}", tags=["monitor", "quiet"])
    response = client.get(f"/l/alte-schule?date={next_weekday(1).isoformat()}")
    css = client.get("/static/app.css")
    size = len(response.data) + len(css.data)
    css.close()
    assert size < 100_000
    # Booking needs no script; the only one, in the head, installs the
    # offline service worker.
    html = response.get_data(as_text=True)
    assert "<script" not in html[html.index("<main>") :]
    assert html.count("<script") == 1 and "register-sw.js" in html


def test_unknown_location_page_is_404(client):
    assert client.get("/l/nowhere").status_code == 404


def test_admin_sets_operators_in_the_location_form(
    client, auth, create_user, space, db
):
    from booking.spaces.models import Location

    location, _, _ = space
    create_user("admin@example.org", role="admin")
    create_user("second@example.org", role="operator")
    auth.login("admin@example.org")
    page = client.get(f"/manage/locations/{location.id}").get_data(as_text=True)
    assert 'value="op@example.org"' in page
    form = {
        "name": location.name,
        "slug": location.slug,
        "address": location.address,
        "lat": "51.46",
        "lon": "12.63",
        "timezone": "Europe/Berlin",
        "operator_model": "classic",
        "hours_mon": "08:00-18:00",
        "horizon_days": "30",
        "cancel_cutoff_hours": "0",
        "midday": "13:00",
        "is_active": "on",
        "operators": "op@example.org, second@example.org",
        "csrf_token": auth.csrf(f"/manage/locations/{location.id}"),
    }
    assert client.post(f"/manage/locations/{location.id}", data=form).status_code == 303
    db.rollback()
    db.expire_all()
    emails = sorted(u.email for u in db.get(Location, location.id).operators)
    assert emails == ["op@example.org", "second@example.org"]


def test_the_day_strip_moves_with_the_chosen_day(client, space):
    """A day next week is among the days to tap, with its neighbours, and a
    week earlier or later is one tap (within today and the horizon)."""
    from datetime import date, timedelta

    today = date.today()
    far = today + timedelta(days=10)
    page = client.get(f"/l/alte-schule?date={far.isoformat()}").get_data(as_text=True)
    nav, chips = day_strip(page)
    assert chips == [far + timedelta(days=n) for n in range(-3, 4)]
    assert (
        f'date={(far - timedelta(days=7)).isoformat()}" aria-label="A week earlier"'
        in nav
    )
    assert (
        f'date={(far + timedelta(days=7)).isoformat()}" aria-label="A week later"'
        in nav
    )
    # Today: the strip starts today, with no way back.
    nav, _chips = day_strip(client.get("/l/alte-schule").get_data(as_text=True))
    assert "A week earlier" not in nav and f"date={today.isoformat()}" in nav
    # Five days ahead the strip no longer shows today: "back" leads there (it
    # led nowhere, and today could only be reached by typing a date).
    soon = today + timedelta(days=5)
    page = client.get(f"/l/alte-schule?date={soon.isoformat()}").get_data(as_text=True)
    nav, chips = day_strip(page)
    assert today not in chips
    assert f'date={today.isoformat()}" aria-label="A week earlier"' in nav


def test_the_start_page_says_when_a_space_takes_no_more_bookings_today(
    client, space, db
):
    from booking.spaces.services import add_closure

    location, _, _ = space
    today = local_date(utcnow(), location.timezone)
    add_closure(db, location.operators[0], location.id, starts_on=today, ends_on=today)
    page = client.get("/").get_data(as_text=True)
    assert "no more bookings today" in page


def test_the_day_view_of_a_day_that_is_over_offers_nothing_to_do(
    client, auth, create_user, space, db
):
    """Found walking the operator's day view after closing time: it offered
    "Cancel …" (then refused: over), "no desk is free" and closing the day."""
    from datetime import timedelta

    from booking.bookings.services import BookingRequest, create_booking
    from booking.db import utcnow

    location, desk, _ = space
    member = create_user("jana@example.org", name="Jana")
    over = utcnow().date() - timedelta(days=2)
    while over.weekday() >= 5:  # a weekday: open by the default hours
        over -= timedelta(days=1)
    coming = next_weekday(1)
    for day in (over, coming):
        create_booking(
            db,
            member,
            BookingRequest.from_values({"resource_id": desk.id, "date": day}),
            now=utcnow() - timedelta(days=6),
        )
    auth.login("op@example.org")

    page = client.get(
        f"/manage/locations/{location.id}/day?date={over.isoformat()}"
    ).get_data(as_text=True)
    assert "Jana" in page
    assert "This day is over: nothing can be booked or closed any more." in page
    assert "Cancel …" not in page
    assert "Book for a member" not in page and "No desk is free" not in page
    assert "Close this day" not in page

    page = client.get(
        f"/manage/locations/{location.id}/day?date={coming.isoformat()}"
    ).get_data(as_text=True)
    assert "Cancel …" in page and "Book for a member" in page
    assert "This day is over" not in page


def test_a_refused_day_view_booking_comes_back_to_its_form_with_what_was_typed(
    client, auth, space
):
    location, desk, _ = space
    auth.login("op@example.org")
    day = next_weekday(1)
    answer, back = _book_from_day_view(
        client,
        auth,
        location,
        day,
        resource_id=desk.id,
        for_someone="1",
        part="am",
        member_email="tom@exmaple.org",
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{back}&at=book#book"
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    form = page[page.index('id="book"') :]
    # The message beside the form, not at the top of the page.
    assert "There is no member with this e-mail address." in form
    assert page.count("There is no member with this e-mail address.") == 1
    assert 'value="tom@exmaple.org"' in form
    assert '<option value="am" selected>' in form
    assert f'<option value="{desk.id}" selected>' in form

    answer, _ = _book_from_day_view(
        client,
        auth,
        location,
        day,
        resource_id=desk.id,
        for_someone="1",
        guest_name="Hans Wanderer",
        guest_email="",
    )
    form = client.get(answer.headers["Location"]).get_data(as_text=True)
    form = form[form.index('id="book"') :]
    assert 'value="Hans Wanderer"' in form and "<details open>" in form


def test_the_location_page_marks_ones_own_booking(client, auth, create_user, space):
    """Found walking: one's own desk read like anyone's ("booked")."""
    location, desk, _ = space
    create_user("mia@example.org", name="Mia")
    create_user("tim@example.org", name="Tim")
    day = next_weekday(1)
    auth.login("mia@example.org")
    booked = client.post(
        "/bookings",
        data={
            "resource_id": desk.id,
            "date": day.isoformat(),
            "csrf_token": auth.csrf("/"),
        },
    )
    assert booked.status_code == 303
    url = f"/l/{location.slug}?date={day.isoformat()}"
    page = client.get(url).get_data(as_text=True)
    assert page.count('class="yours"') == 1 and "Your booking: " in page
    auth.logout()
    auth.login("tim@example.org")
    assert 'class="yours"' not in client.get(url).get_data(as_text=True)


def test_closing_a_day_from_the_day_view_comes_back_to_the_day(
    client, auth, create_user, space, db
):
    """Found walking: closing a day from the day view ended on the long
    location settings page. Through the step that lists the day's bookings,
    it now comes back to the day, closed."""
    from booking.bookings.services import BookingRequest, create_booking

    location, desk, _ = space
    member = create_user("jana@example.org", name="Jana")
    day = next_weekday(2)
    create_booking(
        db, member, BookingRequest.from_values({"resource_id": desk.id, "date": day})
    )
    auth.login("op@example.org")
    here = f"/manage/locations/{location.id}/day?date={day.isoformat()}"
    page = client.get(here).get_data(as_text=True)
    link = re.search(r'href="([^"]*closes=[^"]*)">Close this day', page).group(1)
    form = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert f'name="back" value="{here}"' in form.replace("&amp;", "&")
    data = {
        "starts_on": day.isoformat(),
        "reason": "Wasserschaden",
        "back": here,
        "csrf_token": auth.csrf("/manage/"),
    }
    step = client.post(f"/manage/locations/{location.id}/closures", data=data)
    assert step.status_code == 200
    step_page = step.get_data(as_text=True).replace("&amp;", "&")
    assert "Jana" in step_page and f'name="back" value="{here}"' in step_page
    confirm = re.search(r'name="confirm" value="([^"]*)"', step_page).group(1)
    done = client.post(
        f"/manage/locations/{location.id}/closures", data={**data, "confirm": confirm}
    )
    assert done.status_code == 303 and done.headers["Location"] == here
    day_page = client.get(here).get_data(as_text=True)
    assert "Closed: Wasserschaden" in day_page and "booking was cancelled" in day_page
