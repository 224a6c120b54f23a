"""A demo network: three village spaces in the Leipziger Muldenland."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .access.services import create_door
from .auth.models import Role, User
from .auth.services import create_user
from .db import unit_of_work
from .passes.services import create_plan
from .spaces.models import Location, NetworkSettings
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
            *(
                {"name": f"Desk {n}", "kind": "desk", "tags": ["monitor"]}
                for n in range(1, 7)
            ),
            {
                "name": "Pendler-Lounge",
                "kind": "flex",
                "capacity": 8,
                "tags": ["quiet"],
            },
            {
                "name": "Besprechungsraum Mulde",
                "kind": "room",
                "capacity": 6,
                "tags": ["screen"],
            },
            {"name": "Telefonbox", "kind": "booth", "capacity": 1},
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
            {"name": "Fensterplatz", "kind": "desk", "tags": ["standing desk"]},
            {"name": "Café-Tisch", "kind": "desk"},
            {"name": "Werkbank-Tisch", "kind": "desk", "tags": ["monitor"]},
            {"name": "Saal", "kind": "room", "capacity": 20},
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
                    "tags": ["quiet"] if n < 3 else [],
                }
                for n in range(1, 5)
            ),
            {"name": "Klassenzimmer", "kind": "flex", "capacity": 6},
            {"name": "Lehrerzimmer", "kind": "room", "capacity": 8, "tags": ["screen"]},
        ],
    },
]

# What the demo network sells. Its spaces take bank transfer and payment on
# site (_offer_payment_methods), so plans of a space are bought without
# Stripe; network-wide plans and memberships need STRIPE_SECRET_KEY
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
    _offer_payment_methods(db, admin, operator, locations)
    _set_up_invoicing(db, admin, locations)
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
    from .billing.services import save_payment_settings

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
    from .invoicing.services import save_issuer, share_issuer

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
