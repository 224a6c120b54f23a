"""German and English: complete catalogs, translated pages, API errors and forms,
the language switch, and dates and times in the reader's locale.
"""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po
from sqlalchemy import text

from tests.conftest import day_strip, next_weekday

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "booking" / "translations"
CATALOG_LANGUAGES = sorted(
    path.parent.parent.name for path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
)
HOW_TO_FIX = (
    "Run scripts/i18n, translate the entries listed here in "
    "booking/translations/{lang}/LC_MESSAGES/messages.po (remove '#, fuzzy' once "
    "checked), run scripts/i18n again and commit the .po and .mo (docs/i18n.md)."
)


def _msgid(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _frozen(value):
    """read_mo gives plural ids and strings as lists; make them comparable keys."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _keywords() -> dict:
    """The extraction keywords of scripts/i18n, so test and script cannot differ."""
    script = (ROOT / "scripts" / "i18n").read_text()
    line = next(ln for ln in script.splitlines() if ln.startswith("keywords=("))
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(re.findall(r"-k ([^\s)]+)", line)))
    return keywords


def _extract_template(directory: Path) -> Catalog:
    """What `pybabel extract` would write, via babel's API, into ``directory``."""
    with open(ROOT / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    template = Catalog(project="Landdesk")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=_keywords()
    ):
        template.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    path = directory / "messages.pot"
    with open(path, "wb") as fh:
        write_po(fh, template)
    with open(path, "rb") as fh:
        return read_po(fh)


def _read_po(lang: str) -> Catalog:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


def _is_translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else [message.string]
    return bool(strings) and all(strings)


def test_there_is_a_german_catalog():
    assert "de" in CATALOG_LANGUAGES


def test_extraction_finds_python_and_template_messages(tmp_path):
    template = _extract_template(tmp_path)
    places = {
        _msgid(m.id): {Path(loc[0]).parts[0] for loc in m.locations}
        for m in template
        if m.id
    }
    # lazy_gettext under its alias _l, plain templates, trans blocks and plurals.
    assert places["This is already booked for that time."] == {"booking"}
    assert places["Coworking in the region"] == {"templates"}
    assert (
        'By registering you accept the <a href="%(privacy_url)s">privacy policy</a>.'
        in places
    )
    assert "%(num)d desk free today" in places


@pytest.mark.parametrize("lang", CATALOG_LANGUAGES)
def test_catalog_translates_every_message_in_the_code(lang, tmp_path):
    template = _extract_template(tmp_path)
    catalog = _read_po(lang)
    assert not catalog.fuzzy, f"the header of the {lang} catalog is marked fuzzy"
    missing, untranslated, fuzzy = [], [], []
    for wanted in template:
        if not wanted.id:
            continue
        key = (wanted.id, wanted.context)
        found = catalog.get(_msgid(wanted.id), context=wanted.context)
        if found is None:
            missing.append(key)
        elif found.fuzzy:
            fuzzy.append(key)
        elif not _is_translated(found):
            untranslated.append(key)
        elif isinstance(wanted.id, tuple) != isinstance(found.id, tuple):
            untranslated.append(key)  # became a plural (or stopped being one)
    problems = [
        f"{kind} ({len(ids)}):\n" + "\n".join(f"    {msgid!r}" for msgid, _ in ids)
        for kind, ids in (
            ("not in the catalog", missing),
            ("untranslated", untranslated),
            ("fuzzy", fuzzy),
        )
        if ids
    ]
    if problems:
        pytest.fail(
            f"{lang} catalog is incomplete. {HOW_TO_FIX.format(lang=lang)}\n"
            + "\n".join(problems),
            pytrace=False,
        )


@pytest.mark.parametrize("lang", CATALOG_LANGUAGES)
def test_translations_keep_the_placeholders(lang):
    catalog = _read_po(lang)
    errors = [
        f"{_msgid(message.id)!r}: {'; '.join(str(e) for e in errs)}"
        for message, errs in catalog.check()
        if errs
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("lang", CATALOG_LANGUAGES)
def test_committed_mo_matches_po(lang, tmp_path):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale=lang)
    compiled = tmp_path / "messages.mo"
    with open(compiled, "wb") as fh:
        write_mo(fh, catalog)

    def parsed(path: Path) -> dict:
        with open(path, "rb") as fh:
            return {(_frozen(m.id), m.context): _frozen(m.string) for m in read_mo(fh)}

    committed = parsed(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo")
    expected = parsed(compiled)
    stale = sorted(
        str(_msgid(key[0]))
        for key in committed.keys() ^ expected.keys()
        | {k for k in committed.keys() & expected.keys() if committed[k] != expected[k]}
    )
    assert not stale, (
        f"booking/translations/{lang}/LC_MESSAGES/messages.mo is out of date: "
        f"run scripts/i18n and commit it. Differs for: {stale[:20]}"
    )


# --- pages, API and forms in both languages ----------------------------------


def _text(response) -> str:
    """The page as a reader sees it: tags dropped, entities and spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).split())


@pytest.mark.parametrize(
    "lang, expected, absent",
    [
        (
            "de",
            ["Coworking in der Region", "Standorte", "Anmelden", "Impressum"],
            "Log in",
        ),
        ("en", ["Coworking in the region", "Spaces", "Log in", "Imprint"], "Anmelden"),
    ],
)
def test_home_page_follows_accept_language(client, lang, expected, absent):
    response = client.get("/", headers={"Accept-Language": lang})
    page = _text(response)
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)
    for phrase in expected:
        assert phrase in page
    assert absent not in page


HEADLINE = {"de": "Coworking in der Region", "en": "Coworking in the region"}


@pytest.mark.parametrize(
    "header, lang",
    [
        ("fr-FR, en;q=0.8, de;q=0.5", "en"),
        ("de-AT, en;q=0.5", "de"),
        ("en-GB", "en"),
    ],
)
def test_accept_language_picks_the_best_supported_language(client, header, lang):
    page = _text(client.get("/", headers={"Accept-Language": header}))
    assert HEADLINE[lang] in page


def test_without_a_supported_language_the_default_is_used(app, client):
    default = app.config["BABEL_DEFAULT_LOCALE"]
    for headers in ({"Accept-Language": "fr, pl;q=0.5"}, {}):
        assert HEADLINE[default] in _text(client.get("/", headers=headers))


@pytest.mark.parametrize(
    "lang, phrases",
    [
        ("de", ["Passwort vergessen?", "Neu hier?", "E-Mail", "Passwort"]),
        ("en", ["Forgot your password?", "New here?", "E-mail", "Password"]),
    ],
)
def test_login_page_in_both_languages(client, lang, phrases):
    page = _text(client.get("/login", headers={"Accept-Language": lang}))
    for phrase in phrases:
        assert phrase in page


@pytest.mark.parametrize(
    "lang, sentence",
    [
        (
            "de",
            'bestätigen Sie, die <a href="/privacy">Datenschutzerklärung</a> gelesen',
        ),
        ("en", 'By registering you accept the <a href="/privacy">privacy policy</a>.'),
    ],
)
def test_register_page_links_inside_a_translated_sentence(client, lang, sentence):
    body = client.get("/register", headers={"Accept-Language": lang}).get_data(
        as_text=True
    )
    assert sentence in body


@pytest.fixture
def wednesday_desk(create_location, create_resource):
    location = create_location(name="Alte Schule", slug="alte-schule")
    create_resource(location, "desk", "Fensterplatz")
    create_resource(location, "room", "Kleiner Saal", capacity=6)
    return location


GERMAN_DAYS = ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")
ENGLISH_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _chip_dates(response) -> list[date]:
    """The days offered in the day chooser, in page order."""
    return day_strip(response.get_data(as_text=True))[1]


def _location_page(client, lang: str):
    day = next_weekday(2)  # a Wednesday, open 08:00-18:00 by default
    response = client.get(
        f"/l/alte-schule?date={day.isoformat()}", headers={"Accept-Language": lang}
    )
    assert response.status_code == 200
    return day, response, _text(response).replace("\u202f", " ")


def test_location_page_in_german(client, wednesday_desk):
    day, response, page = _location_page(client, "de")
    for phrase in (
        "Öffnungszeiten: 08:00–18:00",
        "Fensterplatz Arbeitsplatz",
        "Kleiner Saal Besprechungsraum · 6 Personen",
        "Ganzer Tag 08:00–18:00",
        "Vormittag 08:00–13:00",
        "Nachmittag 13:00–18:00",
        f"Mittwoch, {day:%d.%m.%Y}",
    ):
        assert phrase in page, phrase
    assert 'aria-label="Tag wählen"' in response.get_data(as_text=True)
    first, *later = _chip_dates(response)
    if first == date.today():
        assert f"Heute {GERMAN_DAYS[later[0].weekday()]}," in page
    assert day in [first, *later]
    for chip in later:  # "Mi., 25.11."
        assert f"{GERMAN_DAYS[chip.weekday()]}, {chip.day}.{chip.month}." in page


def test_location_page_in_english(client, wednesday_desk):
    day, response, page = _location_page(client, "en")
    for phrase in (
        "Opening hours: 08:00–18:00",
        "Fensterplatz Desk",
        "Kleiner Saal Meeting room · 6 people",
        "Full day 08:00–18:00",
        "Morning 08:00–13:00",
        "Afternoon 13:00–18:00",
        f"Wednesday, {day.day} {day:%B} {day.year}",
    ):
        assert phrase in page, phrase
    assert 'aria-label="Choose a day"' in response.get_data(as_text=True)
    first, *later = _chip_dates(response)
    if first == date.today():
        assert f"Today {ENGLISH_DAYS[later[0].weekday()]} " in page
    assert day in [first, *later]
    for chip in later:  # "Wed 25/11": day before month, as on German pages
        assert f"{ENGLISH_DAYS[chip.weekday()]} {chip:%d/%m}" in page


def test_times_are_shown_in_the_location_time_zone(
    client, create_location, create_resource
):
    # Half past eight on a winter morning in Lisbon is 08:30 UTC, in Berlin 07:30 UTC:
    # the page must show the local wall time, whatever the zone.
    for zone, slug in (("Europe/Lisbon", "lisboa"), ("Asia/Tokyo", "tokyo")):
        location = create_location(
            slug=slug,
            timezone=zone,
            opening_hours={
                d: [["08:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
            },
        )
        create_resource(location, "desk", "Desk")
        day = next_weekday(2)
        page = _text(
            client.get(f"/l/{slug}?date={day}", headers={"Accept-Language": "de"})
        )
        assert "Ganzer Tag 08:30–17:00" in page, zone


@pytest.mark.parametrize(
    "lang, message",
    [("de", "Bitte melden Sie sich an."), ("en", "Please log in.")],
)
def test_api_401_message_in_the_requested_language(api, lang, message):
    response = api().get("/api/v1/me", headers={"Accept-Language": lang})
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "message": message}


@pytest.mark.parametrize(
    "lang, message",
    [
        ("de", "Das ist zu dieser Zeit schon gebucht."),
        ("en", "This is already booked for that time."),
    ],
)
def test_api_409_message_in_the_requested_language(
    api, create_user, wednesday_desk, lang, message
):
    desk = next(r for r in wednesday_desk.resources if r.kind == "desk")
    body = {"resource_id": desk.id, "date": next_weekday(2).isoformat()}
    first = api(create_user()).post("/api/v1/bookings", json=body)
    assert first.status_code == 201, first.get_json()
    second = api(create_user()).post(
        "/api/v1/bookings", json=body, headers={"Accept-Language": lang}
    )
    assert second.status_code == 409
    assert second.get_json()["message"] == message


@pytest.mark.parametrize(
    "lang, message",
    [("de", "Nicht gefunden."), ("en", "Not found.")],
)
def test_api_unknown_route_message_is_translated(api, lang, message):
    response = api().get("/api/v1/no-such-thing", headers={"Accept-Language": lang})
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": message}


@pytest.mark.parametrize(
    "lang, message",
    [
        ("de", "Das hat nicht geklappt Das Formular ist abgelaufen. Bitte laden Sie"),
        ("en", "That did not work The form has expired. Please reload the page"),
    ],
)
def test_missing_csrf_token_message_is_translated(client, lang, message):
    response = client.post(
        "/login", data={"email": "a@example.org"}, headers={"Accept-Language": lang}
    )
    assert response.status_code == 400
    # A heading in words, not the status code.
    assert "<h1>400" not in response.get_data(as_text=True)
    assert message in _text(response)


# --- the language switch -------------------------------------------------------


def test_language_switch_sets_a_cookie_that_beats_the_browser(client, auth):
    response = client.post(
        "/language",
        data={"lang": "en", "next": "/login", "csrf_token": auth.csrf()},
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get_cookie("lang").value == "en"
    page = _text(client.get("/login", headers={"Accept-Language": "de"}))
    assert "Forgot your password?" in page

    client.post("/language", data={"lang": "de", "csrf_token": auth.csrf()})
    page = _text(client.get("/login", headers={"Accept-Language": "en"}))
    assert "Passwort vergessen?" in page


def test_language_switch_rejects_unknown_languages(client, auth):
    response = client.post(
        "/language",
        data={"lang": "fr", "csrf_token": auth.csrf()},
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 400
    assert "Unbekannte Sprache." in _text(response)
    assert client.get_cookie("lang") is None


def test_language_switch_remembers_the_choice_for_a_logged_in_user(
    app, client, auth, db, create_user
):
    user = create_user("anna@example.org")
    auth.login("anna@example.org")
    response = client.post(
        "/language", data={"lang": "en", "next": "/", "csrf_token": auth.csrf()}
    )
    assert response.status_code == 302
    locale = db.execute(
        text("SELECT locale FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert locale == "en"

    # Another browser without the cookie: the account's language wins over
    # Accept-Language once logged in.
    other = app.test_client()
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"',
        other.get("/login").get_data(as_text=True),
    ).group(1)
    other.post(
        "/login",
        data={
            "email": "anna@example.org",
            "password": "password123",
            "csrf_token": token,
        },
    )
    assert other.get_cookie("lang") is None
    page = _text(other.get("/", headers={"Accept-Language": "de"}))
    assert "My bookings" in page and "Meine Buchungen" not in page


@pytest.mark.parametrize(
    "lang, required, taken",
    [
        (
            "de",
            "Dieses Feld wird benötigt.",
            "Mit dieser E-Mail-Adresse gibt es schon ein Konto.",
        ),
        (
            "en",
            "This field is required.",
            "An account with this e-mail address exists already.",
        ),
    ],
)
def test_form_errors_come_in_the_chosen_language(
    client, auth, create_user, lang, required, taken
):
    create_user("taken@example.org")
    client.post("/language", data={"lang": lang, "csrf_token": auth.csrf()})
    token = auth.csrf("/register")
    # Flask-WTF's own validator messages (WTForms' catalogs) ...
    response = client.post(
        "/register", data={"name": "", "email": "", "password": "", "csrf_token": token}
    )
    assert response.status_code == 400
    assert _text(response).count(required) == 3
    # ... and ours, raised by the service.
    response = client.post(
        "/register",
        data={
            "name": "Ben",
            "email": "taken@example.org",
            "password": "long enough password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert taken in _text(response)


@pytest.mark.parametrize(
    "lang, message",
    [
        ("de", "E-Mail-Adresse oder Passwort ist falsch."),
        ("en", "E-mail address or password is wrong."),
    ],
)
def test_login_error_in_the_browser_language(client, auth, lang, message):
    response = client.post(
        "/login",
        data={
            "email": "x@example.org",
            "password": "nope-nope",
            "csrf_token": auth.csrf(),
        },
        headers={"Accept-Language": lang},
    )
    assert response.status_code == 401
    assert message in _text(response)


# --- formatting helpers ------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, chip, heading, opening",
    [
        ("de", "Mi., 25.11.", "Mittwoch, 25.11.2026", "08:00–24:00"),
        ("en", "Wed 25/11", "Wednesday, 25 November 2026", "08:00–24:00"),
    ],
)
def test_date_and_time_filters(app, lang, chip, heading, opening):
    from flask_babel import force_locale

    from booking.i18n import clock, localdate

    with app.test_request_context(), force_locale(lang):
        assert localdate(date(2026, 11, 25), skeleton="MEd") == chip
        assert localdate(date(2026, 11, 25)) == heading
        assert f"{clock('08:00')}–{clock('24:00')}" == opening


@pytest.mark.parametrize(
    "lang, payment, renewal",
    [
        (
            "de",
            "eine Zahlung über 15,00\xa0€ ist nicht durchgegangen.",
            "Ihre Mitgliedschaft „Flex“ verlängert sich am Dienstag, 01.12.2026 "
            "für 1.234,50\xa0€.",
        ),
        (
            "en",
            "a payment of €15.00 did not go through.",
            "your membership “Flex” renews on Tuesday, 1 December 2026 for €1,234.50.",
        ),
    ],
)
def test_mails_format_money_and_dates_for_the_reader(app, lang, payment, renewal):
    from flask import render_template
    from flask_babel import force_locale

    user = {"name": "Jana", "email": "jana@example.org"}
    with app.test_request_context(), force_locale(lang):
        failed = render_template(
            "emails/payment_failed.txt",
            user=user,
            amount=15.0,
            currency="EUR",
            public_url="https://example.org",
        )
        renewing = render_template(
            "emails/membership_renewing.txt",
            user=user,
            plan="Flex",
            renews_on=date(2026, 12, 1),
            amount=1234.5,
            currency="EUR",
            public_url="https://example.org",
        )
    assert payment in failed
    assert renewal in renewing.replace("\n", " ")
