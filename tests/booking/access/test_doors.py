"""Offline PINs, vendor devices, memberships, authorization, the audit log and
its CSV, door state and alerts: all against Mosquitto and real controllers."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.access.models import AccessEvent, Door, DoorAlert
from booking.auth.models import User
from devices import messages
from devices.pins import offline_pin
from tests.support.doors import fresh, wait_until


def events(db, **match):
    fresh(db)
    rows = db.scalars(select(AccessEvent).order_by(AccessEvent.id)).all()
    return [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]


PIN_RE = re.compile(r'class="pin">(\d{3}) (\d{2}) (\d{2}) (\d{5})<')


# --- offline PINs --------------------------------------------------------------


def test_booking_page_shows_the_offline_pin_that_opens_the_door_in_its_window(
    client, auth, member, door, booking_now, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    auth.login("mia@example.org")
    match = PIN_RE.search(client.get("/bookings").get_data(as_text=True))
    assert match, "no PIN on the booking page"
    pin = "".join(match.groups())
    start = booking_now.starts_at - timedelta(minutes=30)
    assert pin == offline_pin(
        secret,
        str(door_row.id),
        start.timestamp(),
        booking_now.ends_at.timestamp(),
        index=0,
    )
    # Typed on the controller's (simulated) keypad: the door opens.
    assert controller.enter_pin(pin).accepted
    assert len(controller.relay.pulses) == 1
    row = wait_until(lambda: events(db, result="pin_accepted"))
    assert row and row[0].channel == "pin"
    # The PIN names its booking, so the log says who came in.
    assert (row[0].user_id, row[0].booking_id) == (member.id, booking_now.id)


def test_pin_outside_its_window_is_refused_and_logged(
    api, member, door, add_booking, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    booking = add_booking(member, tomorrow, tomorrow + timedelta(hours=3))
    (item,) = api(member).get(f"/api/v1/bookings/{booking.id}/doors").get_json()
    assert item["can_open"] is False and len(item["pin"]) == 12
    result = controller.enter_pin(item["pin"])
    assert (result.accepted, result.reason) == (False, "outside_window")
    assert controller.relay.pulses == []
    row = wait_until(lambda: events(db, result="pin_refused"))
    assert row and row[0].user_id == member.id


def test_pin_entries_made_offline_reach_the_log_after_reconnect(
    api, member, door, booking_now, make_controller, link, broker, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    (item,) = api(member).get(f"/api/v1/bookings/{booking_now.id}/doors").get_json()
    broker.stop()
    assert wait_until(lambda: not controller.connected.is_set(), 10)
    # No network at all: the PIN still opens the door.
    assert controller.enter_pin(item["pin"]).accepted
    broker.start()
    row = wait_until(lambda: events(db, result="pin_accepted"), 20)
    assert row, "offline PIN entry never reached the audit log"
    assert row[0].offline is True and row[0].user_id == member.id


def test_suspended_member_gets_no_pin_and_no_door(
    api, db, member, door, booking_now, make_controller, link
):
    from booking.passes.models import Pass, Plan

    plan = Plan(name="Monthly", kind="membership", price_cents=9900, currency="EUR")
    db.add(plan)
    db.flush()
    db.add(
        Pass(
            plan_id=plan.id,
            kind="membership",
            user_id=member.id,
            status="past_due",
            valid_from=date.today() - timedelta(days=40),
            past_due_since=datetime.now(UTC) - timedelta(days=20),
            grace_until=datetime.now(UTC) - timedelta(days=10),
        )
    )
    db.commit()
    door_row, secret = door
    controller = make_controller(door_row, secret)
    client = api(member)
    response = client.post(f"/api/v1/doors/{door_row.id}/unlock")
    assert response.status_code == 403
    assert response.get_json()["reason"] == "membership_suspended"
    (item,) = client.get(f"/api/v1/bookings/{booking_now.id}/doors").get_json()
    assert item["pin"] is None
    assert controller.relay.pulses == []


def test_membership_with_24_7_access_opens_without_booking(
    api, db, member, door, location, make_controller, link
):
    from booking.passes.models import Pass, Plan

    plan = Plan(
        name="Key holder",
        kind="membership",
        price_cents=12900,
        currency="EUR",
        access_24_7=True,
    )
    db.add(plan)
    db.flush()
    db.add(
        Pass(
            plan_id=plan.id,
            kind="membership",
            user_id=member.id,
            status="active",
            access_24_7=True,
            valid_from=date.today(),
        )
    )
    db.commit()
    door_row, secret = door
    make_controller(door_row, secret)
    assert api(member).post(f"/api/v1/doors/{door_row.id}/unlock").status_code == 200


def test_a_door_serving_one_room_is_not_opened_by_a_desk_booking(
    api,
    member,
    make_door,
    booking_now,
    create_resource,
    location,
    make_controller,
    link,
):
    room = create_resource(location, "room", "Meeting room")
    door_row, secret = make_door(name="Room door", resource_ids=[room.id])
    make_controller(door_row, secret)
    response = api(member).post(f"/api/v1/doors/{door_row.id}/unlock")
    assert response.status_code == 403


# --- vendor devices ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["shelly", "tasmota", "nuki"])
def test_vendor_door_opens_and_its_status_is_the_ack(
    kind, api, member, make_door, booking_now, vendor_device, link, db
):
    device = vendor_device(kind)
    door_row, secret = make_door(kind, name=f"{kind} door", device_id=device.device_id)
    assert secret is None
    response = api(member).post(f"/api/v1/doors/{door_row.id}/unlock")
    assert response.status_code == 200, response.get_json()
    ((name, payload),) = device.commands
    expected = {
        "shelly": f"{device.device_id}/rpc",
        "tasmota": f"cmnd/{device.device_id}/Backlog",
        "nuki": f"nuki/{device.device_id}/lockAction",
    }[kind]
    assert name == expected
    if kind == "shelly":
        assert '"method":"Switch.Set"' in payload and '"toggle_after":5' in payload
    elif kind == "tasmota":
        assert payload == "PulseTime1 50; Power1 ON"
    else:
        assert payload == "3"
    assert events(db, channel="app")[-1].result == "opened"


@pytest.mark.parametrize("kind", ["shelly", "nuki"])
def test_vendor_refusal_is_502(
    kind, api, member, make_door, booking_now, vendor_device, link
):
    device = vendor_device(kind, refuse=True)
    door_row, _ = make_door(kind, name="Lock", device_id=device.device_id)
    response = api(member).post(f"/api/v1/doors/{door_row.id}/unlock")
    assert response.status_code == 502
    assert response.get_json()["reason"].startswith(f"{kind}_error")


def test_vendor_device_that_is_not_there_times_out(
    api, member, make_door, booking_now, link
):
    door_row, _ = make_door("tasmota", name="Relay", device_id="door-relay-1")
    assert api(member).post(f"/api/v1/doors/{door_row.id}/unlock").status_code == 504


def test_vendor_state_is_stored_and_a_retained_status_is_no_ack(
    api, member, make_door, booking_now, vendor_device, link, db, broker
):
    device = vendor_device("nuki")
    door_row, _ = make_door("nuki", name="Lock", device_id=device.device_id)
    d = device.device_id
    device.publish(f"nuki/{d}/connected", "true", retain=True)
    device.publish(f"nuki/{d}/batteryChargeState", "64")
    assert wait_until(lambda: (fresh(db), db.get(Door, door_row.id).online)[1])
    assert wait_until(lambda: (fresh(db), db.get(Door, door_row.id).battery)[1])
    device.publish(f"nuki/{d}/batteryCritical", "true")
    assert wait_until(
        lambda: (
            fresh(db)
            or db.scalars(
                select(DoorAlert).where(DoorAlert.kind == "battery_low")
            ).all()
        )
    )
    device.publish(f"nuki/{d}/connected", "false", retain=True)
    assert wait_until(lambda: (fresh(db), db.get(Door, door_row.id).online is False)[1])
    assert wait_until(
        lambda: (
            fresh(db)
            or db.scalars(select(DoorAlert).where(DoorAlert.kind == "offline")).all()
        )
    )


# --- authorization -------------------------------------------------------------


def test_operator_of_another_location_cannot_touch_these_doors(
    api, client, auth, create_user, create_location, door, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    stranger = create_user("other-op@example.org", role="operator")
    create_location(stranger)
    other = api(stranger)
    assert other.get(f"/api/v1/doors/{door_row.id}").status_code == 403
    assert (
        other.patch(f"/api/v1/doors/{door_row.id}", json={"name": "x"}).status_code
        == 403
    )
    assert other.post(f"/api/v1/doors/{door_row.id}/secret").status_code == 403
    assert (
        other.post(
            f"/api/v1/doors/{door_row.id}/unlock", json={"remote": True}
        ).status_code
        == 403
    )
    # As a person without booking, the rule says no as well.
    assert other.post(f"/api/v1/doors/{door_row.id}/unlock").status_code == 403
    assert other.get(f"/api/v1/access-log?door_id={door_row.id}").status_code == 403
    assert (
        other.get(f"/api/v1/access-log?location_id={door_row.location_id}").status_code
        == 403
    )
    assert (
        other.post(
            f"/api/v1/locations/{door_row.location_id}/doors", json={"name": "Mine"}
        ).status_code
        == 403
    )
    # Its own log does not show the other location's rows.
    assert other.get("/api/v1/access-log").get_json() == []
    auth.login("other-op@example.org")
    assert client.get(f"/manage/doors/{door_row.id}").status_code == 403
    assert (
        client.get(f"/manage/locations/{door_row.location_id}/doors").status_code == 403
    )
    token = auth.csrf("/manage/")
    assert client.get(f"/manage/doors/{door_row.id}/unlock").status_code == 403
    assert (
        client.post(
            f"/manage/doors/{door_row.id}/unlock",
            data={"csrf_token": token, "confirmed": "1"},
        ).status_code
        == 403
    )
    assert client.get("/manage/doors/99999").status_code == 404
    assert controller.relay.pulses == []


def test_members_cannot_use_the_console_or_the_log(api, client, auth, member, door):
    door_row, _ = door
    assert api(member).get("/api/v1/access-log").status_code == 403
    assert api(member).get(f"/api/v1/doors/{door_row.id}").status_code == 403
    auth.login("mia@example.org")
    assert client.get("/manage/access-log").status_code == 403


# --- audit log -----------------------------------------------------------------


def test_operator_filters_the_log_and_exports_csv(
    api, client, auth, member, operator, door, booking_now, make_controller, link, db
):
    door_row, secret = door
    make_controller(door_row, secret)
    api(member).post(f"/api/v1/doors/{door_row.id}/unlock")
    stranger = api(operator)
    stranger.post(f"/api/v1/doors/{door_row.id}/unlock")
    outsider = api(_other_member(db))
    assert outsider.post(f"/api/v1/doors/{door_row.id}/unlock").status_code == 403
    op = api(operator)
    rows = op.get("/api/v1/access-log?channel=app").get_json()
    assert {(r["user_email"], r["result"]) for r in rows} == {
        ("mia@example.org", "opened"),
        ("zoe@example.org", "denied"),
    }
    assert [
        r["result"] for r in op.get("/api/v1/access-log?result=denied").get_json()
    ] == ["denied"]
    mia = op.get("/api/v1/access-log?user=mia&channel=app").get_json()
    assert [r["user_email"] for r in mia] == ["mia@example.org"]
    # Any case, and the name too.
    assert op.get("/api/v1/access-log?user=MIA&channel=app").get_json() == mia
    name = db.scalar(select(User.name).where(User.email == "mia@example.org"))
    assert op.get(f"/api/v1/access-log?user={name[:3]}&channel=app").get_json() == mia
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert op.get(f"/api/v1/access-log?since={tomorrow}").get_json() == []
    assert op.get("/api/v1/access-log?channel=smoke").status_code == 400
    auth.login("op@example.org")
    page = client.get("/manage/access-log?user=nobody-at-all").get_data(as_text=True)
    assert "No entries match this choice." in page and "Nothing yet." not in page
    response = client.get(f"/manage/access-log?door_id={door_row.id}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    attempts = [r for r in table if r["Channel"] in ("App", "Operator")]
    assert {(r["E-mail"], r["Channel"], r["Result"]) for r in attempts} == {
        ("mia@example.org", "App", "opened"),
        ("op@example.org", "Operator", "opened"),
        ("zoe@example.org", "App", "no access"),
    }
    assert all(r["Door"] == "Entrance" for r in table)
    # From the German UI: German Excel's dialect, codes in words.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    german = client.get(f"/manage/access-log?door_id={door_row.id}&format=csv")
    text = german.get_data().decode("utf-8")
    assert text.startswith("\ufeffZeit (Ortszeit);Standort;")
    rows = list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))
    assert {"kein Zutritt", "geöffnet"} <= {r["Ergebnis"] for r in rows}
    assert all(r["Zeit (Ortszeit)"][2] == "." for r in rows)  # 07.12.2026 ...
    page = client.get(f"/manage/access-log?door_id={door_row.id}").get_data(True)
    assert "kein Zutritt" in page and ">denied<" not in page
    # Doors of several spaces may share a name: the log names the space.
    location_name = door_row.location.name
    assert f'Entrance <small class="muted">· {location_name}</small>' in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/manage/access-log?result=denied").get_data(as_text=True)
    assert "zoe@example.org" not in page  # shows names, Zoe has one
    assert "Zoe" in page and "Mia Member" not in page


def _other_member(db):
    from booking.auth.models import Role
    from booking.auth.services import create_user

    return create_user(
        db,
        email="zoe@example.org",
        password="password123",
        name="Zoe",
        role=Role.MEMBER,
    )


def test_csv_cells_cannot_smuggle_formulas(db, door):
    from booking.access.audit import access_log_csv

    door_row, _ = door
    row = AccessEvent(
        door_id=door_row.id,
        location_id=door_row.location_id,
        channel="device",
        result="event",
        event_type="tamper",
        reason="=HYPERLINK(1)",
    )
    db.add(row)
    db.commit()
    text = access_log_csv([row])
    assert "'=HYPERLINK(1)" in text


# --- door state, events, alerts --------------------------------------------------


def test_device_page_shows_online_since_and_last_seen(
    client, auth, door, make_controller, link, db
):
    door_row, secret = door
    make_controller(door_row, secret)
    assert wait_until(lambda: (fresh(db), db.get(Door, door_row.id).online)[1])
    auth.login("op@example.org")
    page = client.get(f"/manage/doors/{door_row.id}").get_data(as_text=True)
    status = re.search(r'id="door-status"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "Landdesk door module" in status
    assert ">connected<" in status and "since" in status
    assert "Last report" in page
    fresh(db)
    assert db.get(Door, door_row.id).last_seen_at is not None


def test_offline_door_alerts_the_operator_by_mail_and_on_the_console(
    client, auth, smtp, door, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret)
    assert wait_until(lambda: (fresh(db), db.get(Door, door_row.id).online)[1])
    controller.stop()
    assert wait_until(lambda: (fresh(db), db.get(Door, door_row.id).online is False)[1])
    assert wait_until(lambda: smtp.messages, 5), "no alert mail"
    mail = smtp.messages[0]
    assert "op@example.org" in str(mail["To"])
    assert "offline" in str(mail["Subject"])
    auth.login("op@example.org")
    assert "Entrance at" in client.get("/manage/").get_data(as_text=True)
    # Back online: the alert resolves itself.
    make_controller(door_row, secret)
    assert wait_until(
        lambda: (
            fresh(db)
            or db.scalars(
                select(DoorAlert).where(DoorAlert.resolved_at.is_not(None))
            ).all()
        )
    )


def test_repeated_wrong_pins_and_held_open_door_raise_alerts(
    door, make_controller, link, db
):
    door_row, secret = door
    controller = make_controller(door_row, secret, held_open_alert_s=0.2)
    for _ in range(3):
        controller.enter_pin("000000000000")
    controller.set_door_open(True)

    def alert_kinds() -> set[str]:
        fresh(db)
        return {a.kind for a in db.scalars(select(DoorAlert)).all()}

    assert wait_until(lambda: {"pin_failures", "held_open"} <= alert_kinds())
    assert len(events(db, result="pin_refused")) == 2
    assert len(events(db, result="pin_locked_out")) == 1


def test_a_redelivered_event_is_stored_once(door, link, broker, db):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    door_row, secret = door
    broker.add_user(str(door_row.id), "pw")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(str(door_row.id), "pw")
    client.connect(broker.host, broker.port)
    client.loop_start()
    event = messages.make_event(str(door_row.id), secret, "tamper", reason="lid open")
    for _ in range(3):
        client.publish(
            messages.topic("landdesk", str(door_row.id), "event"),
            event.to_json(),
            qos=1,
        ).wait_for_publish(5)
    forged = messages.make_event(str(door_row.id), messages.new_secret(), "opened")
    client.publish(
        messages.topic("landdesk", str(door_row.id), "event"), forged.to_json(), qos=1
    ).wait_for_publish(5)
    time.sleep(0.3)
    link.drain()
    client.disconnect()
    client.loop_stop()
    stored = events(db, channel="device")
    assert [(e.event_type, e.event_id) for e in stored] == [("tamper", event.id)]
    assert db.scalars(select(DoorAlert).where(DoorAlert.kind == "tamper")).all()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {},  # no browser metadata and no token: refused as well
    ],
)
def test_cookie_api_call_without_csrf_proof_cannot_rotate_a_door_secret(
    api, client, auth, operator, location, db, headers
):
    body = (
        api(operator)
        .post(
            f"/api/v1/locations/{location.id}/doors",
            json={"name": "Front door", "kind": "landdesk"},
        )
        .get_json()
    )
    sealed = db.get(Door, body["id"]).secret_enc
    auth.login(operator.email)
    response = client.post(
        f"/api/v1/doors/{body['id']}/secret",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    db.expire_all()
    assert db.get(Door, body["id"]).secret_enc == sealed
    # Our own page's script (same origin, the page's token) may.
    response = client.post(
        f"/api/v1/doors/{body['id']}/secret",
        headers={"Origin": "http://localhost", **auth.api_headers()},
    )
    assert response.status_code == 200
    # A bearer token is no ambient credential: no token needed.
    assert api(operator).post(f"/api/v1/doors/{body['id']}/secret").status_code == 200
