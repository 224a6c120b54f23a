"""The admin's and operator's setup journeys on a German phone at 390 px
(issue 18 points 4, 5, 6 and 8): people and roles, a door paired with a
code by the real controller process, companies, and the pages with tables.

Every page is checked for horizontal scrolling; with LANDDESK_SHOTS=DIR it
is also saved there as a screenshot to look at."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import log_in
from tests.support.doors import wait_until
from tests.support.mosquitto import DEPLOY_ACL, Broker, start_broker

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("LANDDESK_SHOTS")


@pytest.fixture
def broker() -> Iterator[Broker]:
    b = start_broker({"landdesk": "service-pw"}, DEPLOY_ACL)
    yield b
    b.close()


@pytest.fixture
def app_config(app_config, broker) -> dict:
    return {
        **app_config,
        "MQTT_URL": broker.url("landdesk"),
        "MQTT_PASSWORD_FILE": str(broker.directory / "passwd"),
        "UNLOCK_TIMEOUT_S": 3,
        "UNLOCK_RATE_LIMIT": "1000/minute",
    }


@pytest.fixture(autouse=True)
def _door_link(app) -> Iterator[None]:
    from booking.access.link import stop_link

    yield
    stop_link(app)


@pytest.fixture
def german(new_phone) -> Page:
    return new_phone(
        locale="de-DE", extra_http_headers={"Accept-Language": "de"}
    ).new_page()


def fits(page: Page, name: str) -> None:
    """No horizontal page scroll at 390 px; a screenshot to look at."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True, timeout=60_000)
    page.wait_for_load_state()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} is {width} px wide"


def test_admin_invites_an_operator_and_changes_roles(
    german, create_user, create_location, smtp, db
):
    create_user("ada@example.org", role="admin", name="Ada Admin")
    create_user("mia@example.org", name="Mia Meier")
    north = create_location(name="Dorfbüro Nord")
    page = german
    log_in(page, "ada@example.org")
    page.goto("/manage/")
    page.get_by_role("link", name="Personen und Rollen").tap()
    page.locator("input[name=email]").first.fill("mia@")
    page.get_by_role("button", name="Suchen").tap()
    expect(page.locator("ul.people")).to_contain_text("mia@example.org")
    fits(page, "people-search")
    page.get_by_text("mia@example.org").tap()
    page.locator("input[name=role][value=operator]").check()
    page.get_by_label("Dorfbüro Nord").check()
    page.get_by_role("button", name="Speichern").tap()
    expect(page.locator("p.flash.success")).to_have_text("Gespeichert.")
    fits(page, "person")
    from booking.auth.models import User
    from booking.spaces.services import can_manage

    db.expire_all()
    mia = db.query(User).filter_by(email="mia@example.org").one()
    assert mia.role == "operator" and can_manage(db, mia, north.id)

    page.goto("/admin/people")
    form = page.locator("form[action='/admin/people/invite']")
    form.locator("input[name=email]").fill("neu@example.org")
    form.locator("input[name=name]").fill("Nele Neu")
    form.get_by_label("Dorfbüro Nord").check()
    form.get_by_role("button", name="Einladung senden").tap()
    expect(page.locator("p.flash.success")).to_contain_text(
        "Einladung an neu@example.org"
    )
    mail = smtp.wait_for_message()
    # In the admin's language, which becomes the new account's.
    assert mail["Subject"] == "Ada Admin lädt Sie zu Landdesk ein"
    assert "Sie betreiben: Dorfbüro Nord." in mail.get_content()
    db.commit()  # a fresh snapshot (SQLite)
    assert db.query(User).filter_by(email="neu@example.org").one().locale == "de"
    fits(page, "people-invited")
    # Admins cannot switch themselves off.
    me = db.query(User).filter_by(email="ada@example.org").one()
    page.goto(f"/admin/people/{me.id}")
    page.locator("input[name=is_active]").uncheck()
    page.get_by_role("button", name="Speichern").tap()
    expect(page.locator("p.flash.error")).to_contain_text("nicht selbst abschalten")
    fits(page, "person-self")


def test_operator_adds_a_door_and_the_module_pairs_with_the_code(
    german,
    create_user,
    create_location,
    create_resource,
    db,
    live_server,
    broker,
    tmp_path,
):
    operator = create_user("olga@example.org", role="operator", name="Olga")
    location = create_location(operator, name="Alte Schule")
    create_resource(location, "desk", "Platz 1")
    page = german
    log_in(page, "olga@example.org")
    page.goto(f"/manage/locations/{location.id}/doors")
    page.locator("input[name=name]").fill("Haustür")
    page.get_by_role("button", name="Tür hinzufügen").tap()
    code = page.locator("#pairing-code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    expect(page.locator(".qr svg")).to_be_visible()
    assert "DOOR-PASSWORD" not in page.content()
    door_id = int(re.search(r"/manage/doors/(\d+)", page.content()).group(1))
    fits(page, "door-pairing")

    config = tmp_path / "door.toml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devices.controller",
            "--config",
            str(config),
            "--pair",
            live_server.url,
            code,
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        passwd = broker.directory / "passwd"
        line = f"\n{door_id}:$7$"
        assert wait_until(lambda: line in "\n" + passwd.read_text(), 10)
        broker.process.send_signal(signal.SIGHUP)  # the deployment's path unit
        from booking.access.models import Door

        def online() -> bool:
            db.commit()
            db.expire_all()
            return bool(db.get(Door, door_id).online)

        assert wait_until(online, 15), "the paired module did not connect"
        page.get_by_role("link", name="Zur Tür").tap()
        status = page.locator("#door-status")
        expect(status).to_contain_text("Landdesk-Türmodul · verbunden")
        fits(page, "door-connected")
        page.get_by_role("link", name="Aus der Ferne öffnen …").tap()
        expect(page.locator("h1")).to_have_text("Tür aus der Ferne öffnen?")
        fits(page, "door-open-confirm")
        page.get_by_role("button", name="Ja, jetzt öffnen").tap()
        expect(page.locator("p.flash.success")).to_contain_text("ist offen")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)

    page.goto(f"/manage/locations/{location.id}/doors")
    page.locator("input[name=name]").fill("Hoftor")
    page.locator("select[name=kind]").select_option("shelly")
    page.locator("input[name=device_id]").fill("shellyplus1-a8032ab12345")
    page.get_by_role("button", name="Tür hinzufügen").tap()
    expect(page.locator("#door-status")).to_contain_text(
        "Shelly-Relais · noch nie verbunden"
    )
    fits(page, "door-shelly")
    page.get_by_role("button", name="Server und Passwort anzeigen").tap()
    expect(page.locator("ol.steps")).to_contain_text(
        "Benutzername: shellyplus1-a8032ab12345"
    )
    fits(page, "door-shelly-login")
    page.goto(f"/manage/locations/{location.id}/doors")
    fits(page, "doors")
    page.goto(f"/manage/access-log?location_id={location.id}")
    expect(page.locator("table.log")).to_contain_text("Aus der Ferne geöffnet")
    assert "remote" not in page.locator("table.log").inner_text()
    fits(page, "access-log")


def test_operator_creates_a_company_with_budget_and_the_tables_fit(
    german, create_user, create_location, db, smtp
):
    from booking.access.models import AccessEvent
    from booking.access.services import create_door
    from booking.passes import services as passes

    operator = create_user("olga@example.org", role="operator", name="Olga")
    location = create_location(operator, name="Alte Schule")
    passes.create_plan(
        db,
        operator,
        {
            "kind": "company",
            "name": "Verwaltung",
            "price": "300",
            "days": "10",
            "location_id": location.id,
        },
    )
    door, _ = create_door(
        db, operator, location.id, {"name": "Haustür", "kind": "landdesk"}
    )
    member = create_user(
        "sehr.lange.adresse.eines.mitglieds@beispiel-gemeinde.example", name="Mia"
    )
    now = datetime.now(UTC)
    for minutes, result, reason in (
        (5, "denied", "no_booking"),
        (3, "rate_limited", "rate_limited"),
        (1, "opened", "booking"),
    ):
        db.add(
            AccessEvent.for_door(
                door,
                user_id=member.id,
                channel="app",
                result=result,
                reason=reason,
                occurred_at=now - timedelta(minutes=minutes),
            )
        )
    db.add(
        AccessEvent.for_door(
            door,
            channel="device",
            result="event",
            event_type="held_open",
            occurred_at=now,
        )
    )
    db.commit()
    page = german
    log_in(page, "olga@example.org")
    page.goto("/operator/companies")
    page.locator("input[name=name]").fill("Gemeinde Thallwitz")
    page.locator("input[name=admin_email]").fill("kern@thallwitz.example")
    page.locator("input[name=admin_name]").fill("Frau Kern")
    page.locator("select[name=plan_id]").select_option(index=1)
    page.locator("input[name=days]").fill("4")
    fits(page, "companies")
    page.get_by_role("button", name="Anlegen und einladen").tap()
    expect(page.locator("p.flash.success")).to_have_text("Firmenkonto angelegt.")
    assert "kern@thallwitz.example" == smtp.wait_for_message()["To"]
    expect(page.locator("#set-budget input[name=days]")).to_have_value("4")
    fits(page, "company")
    page.goto(f"/manage/access-log?location_id={location.id}")
    log = page.locator("table.log")
    for german_words in (
        "kein Zutritt",
        "zu viele Versuche",
        "geöffnet",
        "Tür wird offen gehalten",
        "Türmodul",
    ):
        expect(log).to_contain_text(german_words)
    for code in ("rate_limited", "held_open", "no_booking", "device"):
        assert code not in log.inner_text()
    fits(page, "access-log-codes")
    page.goto("/operator/members")
    fits(page, "members")
    page.goto(f"/manage/doors/{door.id}")
    fits(page, "door")
    page.goto(f"/manage/locations/{location.id}/insight")
    fits(page, "insight")
