"""A demo network: three village spaces in the Leipziger Muldenland."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .access.services import create_door
from .auth.models import Role, User
from .auth.services import create_user
from .billing.services import save_payment_settings
from .bookings.models import Booking, DayPart
from .bookings.requests import BookingRequest, Guest
from .bookings.rules import plan_for
from .bookings.services import create_booking
from .db import unit_of_work, utcnow
from .errors import DomainError
from .insight.models import MemberProfile
from .invoicing.services import save_issuer, share_issuer
from .passes.models import PassStatus, Plan
from .passes.services import create_plan, new_pass
from .passes.services.prices import set_resource_prices
from .spaces.models import Location, NetworkSettings, Resource
from .spaces.services import create_location, create_resource

DEMO_PASSWORD = "landdesk-demo"

LOCATIONS = [
    {
        "name": "Bahnhof Eilenburg",
        "slug": "eilenburg",
        "village": "Eilenburg",
        "address": "Bahnhofstraße 1, 04838 Eilenburg",
        "lat": 51.4596,
        "lon": 12.6253,
        "operator_model": "commuter_hub",
        "description": "Pendlerhafen am Bahnhof: S-Bahn nach Leipzig in 25 Minuten.",
        "opening_hours": {
            d: [["07:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
        },
        "resources": [
            {
                "name": "Gleisblick 1",
                "kind": "desk",
                "tags": ["Fensterplatz", "Monitor"],
            },
            {
                "name": "Gleisblick 2",
                "kind": "desk",
                "tags": ["Fensterplatz", "Monitor"],
            },
            {"name": "Ecktisch", "kind": "desk", "tags": ["ruhig", "Monitor"]},
            {"name": "Langer Tisch 1", "kind": "desk", "tags": ["Monitor"]},
            {"name": "Langer Tisch 2", "kind": "desk"},
            {
                "name": "Stehpult",
                "kind": "desk",
                "tags": ["höhenverstellbar", "Monitor"],
            },
            {
                "name": "Pendler-Lounge",
                "kind": "flex",
                "capacity": 8,
                "tags": ["ruhig"],
            },
            {
                "name": "Besprechungsraum Mulde",
                "kind": "room",
                "capacity": 6,
                "tags": ["Bildschirm", "Videokonferenz"],
            },
            {"name": "Telefonbox", "kind": "booth", "capacity": 1, "tags": ["ruhig"]},
        ],
    },
    {
        "name": "Dorfmitte Thallwitz",
        "slug": "thallwitz",
        "village": "Thallwitz",
        "address": "Schloßstraße 4, 04808 Thallwitz",
        "lat": 51.4330,
        "lon": 12.6810,
        "operator_model": "village_centre",
        "description": "Coworking im Dorfcafé, mit Raum für Veranstaltungen.",
        "opening_hours": {
            **{
                d: [["09:00", "12:30"], ["13:30", "18:00"]]
                for d in ("mon", "tue", "wed", "thu")
            },
            "fri": [["09:00", "16:00"]],
            "sat": [["10:00", "14:00"]],
        },
        "resources": [
            {
                "name": "Fensterplatz",
                "kind": "desk",
                "tags": ["Fensterplatz", "Stehpult"],
            },
            {"name": "Café-Tisch", "kind": "desk", "tags": ["gesellig"]},
            {"name": "Werkbank-Tisch", "kind": "desk", "tags": ["Monitor"]},
            {"name": "Saal", "kind": "room", "capacity": 20, "tags": ["Beamer"]},
        ],
    },
    {
        "name": "Alte Schule Naunhof",
        "slug": "naunhof",
        "village": "Naunhof",
        "address": "Markt 3, 04683 Naunhof",
        "lat": 51.2776,
        "lon": 12.5886,
        "operator_model": "classic",
        "description": "Klassisches Coworking in der alten Dorfschule.",
        "resources": [
            *(
                {
                    "name": f"Platz {n}",
                    "kind": "desk",
                    "tags": ["ruhig", "Fensterplatz"] if n < 3 else ["Monitor"],
                }
                for n in range(1, 5)
            ),
            {
                "name": "Klassenzimmer",
                "kind": "flex",
                "capacity": 6,
                "tags": ["gesellig"],
            },
            {
                "name": "Lehrerzimmer",
                "kind": "room",
                "capacity": 8,
                "tags": ["Bildschirm", "Whiteboard"],
            },
        ],
    },
]

# Prices in euros incl. VAT (passes.services.prices) on some desks and the
# rooms: the space pages show them, and members see what their plan covers.
# Most desks stay free, so the demo books without any payment set up.
PRICES = {
    ("eilenburg", "Stehpult"): {"price_day_cents": 1500, "price_half_day_cents": 900},
    ("eilenburg", "Besprechungsraum Mulde"): {"price_hour_cents": 1200},
    ("eilenburg", "Telefonbox"): {"price_hour_cents": 300},
    ("thallwitz", "Saal"): {"price_hour_cents": 2500},
    ("naunhof", "Platz 4"): {"price_day_cents": 1200, "price_half_day_cents": 700},
    ("naunhof", "Lehrerzimmer"): {"price_hour_cents": 1000},
}

# What the demo network sells. Its spaces take bank transfer and payment on
# site (_offer_payment_methods), so plans of a space, memberships included,
# are bought without Stripe; network-wide plans need STRIPE_SECRET_KEY
# (docs/billing.md).
PLANS = [
    (
        "operator",
        "eilenburg",
        {"name": "Tagespass Eilenburg", "kind": "day_pass", "price": "12"},
    ),
    (
        "operator",
        "eilenburg",
        {
            "name": "Halbtagespass Eilenburg",
            "kind": "day_pass",
            "price": "7",
            "half_day": "1",
        },
    ),
    ("admin", None, {"name": "Netzwerk-Tagespass", "kind": "day_pass", "price": "15"}),
    (
        "operator",
        "eilenburg",
        {
            "name": "Fester Schreibtisch Eilenburg",
            "kind": "membership",
            "price": "189",
            "fixed_desk": "1",
            "access_24_7": "1",
        },
    ),
    (
        "operator",
        "naunhof",
        {
            "name": "10er-Karte Naunhof",
            "kind": "pack",
            "price": "100",
            "days": 10,
            "valid_days": 180,
        },
    ),
    (
        "admin",
        None,
        {
            "name": "Flex-Mitgliedschaft Netzwerk",
            "kind": "membership",
            "price": "89",
            "days": 8,
        },
    ),
]


# The people behind eight weeks of history: name, target group, home village
# and one-way commute in km (the funders' export counts the km saved).
HISTORY_MEMBERS = [
    ("Anna Krüger", "commuter", "Eilenburg", 42),
    ("Paul Schubert", "employee", "Doberschütz", 35),
    ("Lea Hoffmann", "freelancer", "Thallwitz", 0),
    ("Jonas Richter", "startup", "Eilenburg", 28),
    ("Marie Wolf", "commuter", "Jesewitz", 51),
    ("Felix Braun", "craft", "Naunhof", 12),
    ("Sophie Lange", "employee", "Brandis", 30),
    ("Max Vogel", "freelancer", "Naunhof", 0),
    ("Emma Zimmermann", "commuter", "Bad Düben", 47),
    ("Lukas Neumann", "employee", "Wurzen", 33),
    ("Clara Schmitt", "startup", "Thallwitz", 22),
    ("Ben Fischer", "commuter", "Laußig", 39),
    ("Hannah Weber", "employee", "Machern", 27),
    ("Tim Schulze", "commuter", "Zschepplin", 44),
    ("Mia Koch", "freelancer", "Eilenburg", 0),
    ("Noah Bauer", "craft", "Thallwitz", 9),
    ("Lina Richter", "commuter", "Parthenstein", 36),
    ("Elias Klein", "startup", "Naunhof", 18),
    ("Frieda Schröder", "employee", "Großpösna", 25),
    ("Karl Neumann", "commuter", "Borsdorf", 31),
    ("Ida Schwarz", "freelancer", "Brandis", 0),
    ("Oskar Hartmann", "employee", "Trebsen", 40),
]
HISTORY_WEEKS = 8


def create_demo(
    db: Session, *, password: str | None = None
) -> list[tuple[str, str, str]]:
    """Create the demo network; refuses when the database holds accounts already."""
    if db.scalar(select(func.count(User.id))):
        raise RuntimeError("The database has accounts already; demo data not added.")
    password = password or DEMO_PASSWORD
    admin = create_user(
        db,
        email="admin@example.org",
        password=password,
        name="Netzwerk-Admin",
        role=Role.ADMIN,
    )
    operator = create_user(
        db,
        email="betrieb@example.org",
        password=password,
        name="Betreiberin Anke",
        role=Role.OPERATOR,
    )
    members = [
        create_user(
            db,
            email=f"{name.lower()}@example.org",
            password=password,
            name=name,
            locale=locale,
        )
        for name, locale in (("Jana", "de"), ("Tom", "en"))
    ]
    with unit_of_work(db):
        db.merge(
            NetworkSettings(
                id=1,
                name="Coworking Muldenland",
                contact_email="hallo@example.org",
                imprint=(
                    "Coworking Muldenland (Demo)\nMusterstraße 1, 04838 Eilenburg\n"
                    "Vertreten durch: Demo e. V."
                ),
                privacy=(
                    "Wir speichern nur, was für Buchungen und den Türzugang "
                    "nötig ist. (Demo-Text)"
                ),
            )
        )
    locations = {}
    for spec in LOCATIONS:
        spec = dict(spec)
        resources = spec.pop("resources")
        location = create_location(db, operator, spec)
        locations[location.slug] = location
        for resource in resources:
            create_resource(db, operator, location.id, resource)
        # One simulated reference controller per space (scripts/run starts it).
        create_door(db, operator, location.id, {"name": "Eingang", "kind": "landdesk"})
    for seller, slug, plan in PLANS:
        values = dict(plan)
        if slug:
            values["location_id"] = locations[slug].id
        create_plan(db, admin if seller == "admin" else operator, values)
    people = _history_members(db, members[0])
    _history(db, list(locations.values()), people + members, now=utcnow())
    # Prices after the history: it was booked while the desks were free.
    for (slug, name), prices in PRICES.items():
        resource = db.scalar(
            select(Resource).where(
                Resource.location_id == locations[slug].id, Resource.name == name
            )
        )
        set_resource_prices(db, operator, resource.id, prices)
    # Jana holds a 10-day pack at Naunhof (as if paid): the priced desk there
    # says "1 day from 10er-Karte Naunhof" to her.
    with unit_of_work(db):
        pack = db.scalar(select(Plan).where(Plan.name == "10er-Karte Naunhof"))
        db.add(
            new_pass(
                pack,
                user_id=members[0].id,
                today=utcnow().date(),
                status=PassStatus.ACTIVE,
            )
        )
    _offer_payment_methods(db, admin, operator, locations)
    _set_up_invoicing(db, admin, locations)
    _upcoming(db, list(locations.values()), members, people, now=utcnow())
    return [
        ("admin", admin.email, password),
        ("operator", operator.email, password),
        *(("member", m.email, password) for m in members),
    ]


def _offer_payment_methods(
    db: Session, admin: User, operator: User, locations: dict[str, Location]
) -> None:
    """Ways to pay that need no Stripe key (issue 19): every demo space
    takes bank transfer on invoice (confirmed at once, due in 14 days) and
    payment on site, so a newcomer buys a day pass end to end without Stripe;
    with STRIPE_SECRET_KEY set, card payment is offered as well."""
    for location in locations.values():
        save_payment_settings(
            db,
            operator,
            location.id,
            {
                "stripe": "1",
                "invoice": "1",
                "on_site": "1",
                "invoice_due_days": "14",
                "invoice_confirms": "1",
                "account_holder": "Coworking Muldenland e. V. (Demo)",
                "iban": "DE02 1203 0000 0000 2020 51",
            },
        )


def _set_up_invoicing(db: Session, admin: User, locations: dict[str, Location]) -> None:
    """One operator's invoice details for every demo space, also issuing the
    network-wide plans' invoices (docs/invoicing.md): every sale of the demo
    gets its invoice PDF and XRechnung."""
    first, *others = locations.values()
    save_issuer(
        db,
        admin,
        first.id,
        {
            "name": "Coworking Muldenland e. V. (Demo)",
            "street": "Musterstraße 1",
            "postcode": "04838",
            "city": "Eilenburg",
            "tax_number": "232/140/12345",
            "iban": "DE02 1203 0000 0000 2020 51",
            "email": "rechnung@example.org",
            "phone": "03423 123456",
            "payment_terms_days": "14",
            "number_prefix": "DEMO-",
            "is_network_default": "on",
        },
    )
    for location in others:
        share_issuer(db, admin, location.id, first.id)


def _history_members(db: Session, like: User) -> list[User]:
    """The regulars of the last weeks, with the demo password (one hash for
    all: hashing is the slow part of making accounts) and a profile."""
    people = []
    with unit_of_work(db):
        for name, group, village, km in HISTORY_MEMBERS:
            first = name.split()[0].lower()
            user = User(
                email=f"{first}@example.org",
                name=name,
                password_hash=like.password_hash,
                role=Role.MEMBER,
                locale="de",
            )
            db.add(user)
            db.flush()
            db.add(
                MemberProfile(
                    user_id=user.id,
                    target_group=group,
                    home_municipality=village,
                    commute_km=km or None,
                )
            )
            people.append(user)
    return people


def _history(
    db: Session, locations: list[Location], people: list[User], *, now: datetime
) -> None:
    """Eight weeks of bookings through the one booking path, as booked on
    each morning, busier week by week and midweek, most of them checked
    in: the operator's charts and the funders' export show real shapes.

    One unit of work for all of it; the mails those days owed are cleared,
    so starting the demo sends none."""
    rng = random.Random(17)
    today = now.date()
    sites = []
    for location in locations:
        resources = list(
            db.scalars(
                select(Resource)
                .where(Resource.location_id == location.id)
                .order_by(Resource.id)
            )
        )
        desks = [r for r in resources if r.kind in ("desk", "flex")]
        rooms = [r for r in resources if r.kind in ("room", "booth")]
        seats = [(r, n) for r in desks for n in range(r.seat_count)]
        sites.append((location, seats, rooms))
    with unit_of_work(db):
        # The spaces opened before their history: the charts count a day
        # only from a location's opening (insight.services.dashboard).
        opened = now - timedelta(days=HISTORY_WEEKS * 7 + 1)
        for location in locations:
            location.created_at = min(location.created_at, opened)
        for back in range(HISTORY_WEEKS * 7, 0, -1):
            day = today - timedelta(days=back)
            # One person, one workplace: nobody is at two spaces on a day.
            idle = list(people)
            rng.shuffle(idle)
            growth = 0.35 + 0.55 * (HISTORY_WEEKS * 7 - back) / (HISTORY_WEEKS * 7)
            midweek = 1.25 if day.weekday() in (1, 2, 3) else 0.8
            for location, seats, rooms in sites:
                plan = plan_for(location, day)
                if not plan.is_open:
                    continue
                morning = plan.windows[0][0] - timedelta(hours=1)
                wanted = round(len(seats) * growth * midweek * rng.uniform(0.5, 0.9))
                wanted = min(wanted, len(idle) // 2 or len(idle))
                for (resource, _), person in zip(seats, idle[:wanted], strict=False):
                    part = DayPart.FULL
                    if plan.has_half_days:
                        part = rng.choices(
                            [DayPart.FULL, DayPart.AM, DayPart.PM], [6, 2, 1]
                        )[0]
                    request = BookingRequest(resource.id, on=day, part=part)
                    _book(db, person, request, morning, rng)
                del idle[:wanted]
                for room in rooms:
                    if rng.random() > 0.6 * growth:
                        continue
                    start = plan.windows[0][0] + timedelta(
                        minutes=30 * rng.randrange(0, 4)
                    )
                    end = start + timedelta(minutes=30 * rng.randrange(2, 5))
                    if end > plan.windows[0][1]:
                        continue
                    request = BookingRequest(
                        room.id, part=DayPart.HOURS, starts_at=start, ends_at=end
                    )
                    _book(db, rng.choice(people), request, morning, rng)
        db.execute(
            update(Booking)
            .where(Booking.mail_due.is_not(None))
            .values(mail_due=None)
            .execution_options(synchronize_session=False)
        )


def _book(db, person, request, now, rng, *, check_in: float = 0.85) -> Booking | None:
    try:
        booking = create_booking(db, person, request, now=now)
    except DomainError:
        return None  # the person had something else that day: as in life
    if rng.random() < check_in:
        booking.checked_in_at = booking.starts_at + timedelta(
            minutes=rng.randrange(0, 50)
        )
    return booking


def _upcoming(
    db: Session,
    locations: list[Location],
    members: list[User],
    people: list[User],
    *,
    now: datetime,
) -> None:
    """A few bookings ahead, so today's and the coming days' operator views
    are not empty; Jana has booked a desk for a guest."""
    rng = random.Random(7)
    jana = members[0]
    with unit_of_work(db):
        _upcoming_bookings(db, locations, jana, people, now, rng)
        # Only the guest's confirmation is mailed (to the console in the demo).
        db.execute(
            update(Booking)
            .where(Booking.mail_due.is_not(None), Booking.guest_email.is_(None))
            .values(mail_due=None)
            .execution_options(synchronize_session=False)
        )


def _today(db, location, desks, people, now) -> None:
    """Today's desks, booked that morning: the operator's first look at the
    day view is not empty; whoever's day has begun checked in."""
    plan = plan_for(location, now.date())
    if not plan.is_open:
        return
    rng = random.Random(location.id)
    morning = min(now, plan.windows[0][0] - timedelta(hours=1))
    for person, desk in zip(rng.sample(people, 3), desks[::-1], strict=False):
        request = BookingRequest(desk.id, on=now.date())
        booking = _book(db, person, request, morning, rng, check_in=0)
        arrived = booking and booking.starts_at + timedelta(
            minutes=rng.randrange(5, 40)
        )
        if arrived and arrived < now and rng.random() < 0.8:
            booking.checked_in_at = arrived


def _upcoming_bookings(db, locations, jana, people, now, rng) -> None:
    for location in locations:
        desks = list(
            db.scalars(
                select(Resource)
                .where(Resource.location_id == location.id, Resource.kind == "desk")
                .where(Resource.price_day_cents == 0)
                .order_by(Resource.id)
            )
        )
        _today(db, location, desks, people, now)
        for ahead in range(1, 6):
            day = now.date() + timedelta(days=ahead)
            if not plan_for(location, day).is_open:
                continue
            for person, desk in zip(rng.sample(people, 2), desks, strict=False):
                _book(db, person, BookingRequest(desk.id, on=day), now, rng, check_in=0)
    eilenburg = locations[0]
    desks = list(
        db.scalars(
            select(Resource)
            .where(Resource.location_id == eilenburg.id, Resource.kind == "desk")
            .order_by(Resource.id.desc())
        )
    )
    for ahead in range(1, 8):
        day = now.date() + timedelta(days=ahead)
        if plan_for(eilenburg, day).is_open:
            _book(db, jana, BookingRequest(desks[1].id, on=day), now, rng, check_in=0)
            guest = Guest("Gisela Gast", "gisela.gast@example.org")
            request = BookingRequest(desks[2].id, on=day, guest=guest)
            _book(db, jana, request, now, rng, check_in=0)
            break
