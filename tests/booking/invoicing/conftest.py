"""Shared set-up of the invoicing tests: a space with its issuer and a plan."""

from __future__ import annotations

import pytest

from booking.billing import services as billing
from booking.billing.models import PaymentMethod
from booking.invoicing import services as invoicing
from booking.passes.models import Plan, PlanKind
from tests.conftest import next_weekday

ISSUER = {
    "name": "Dorfbüro Lommatzsch e. V.",
    "street": "Markt 1",
    "postcode": "01623",
    "city": "Lommatzsch",
    "tax_number": "203/123/45678",
    "vat_id": "DE123456789",
    "iban": "DE02120300000000202051",
    "bic": "BYLADEM1001",
    "email": "rechnung@dorfbuero.example",
    "phone": "035241 123456",
    "payment_terms_days": "14",
}


# The location's ways to pay (billing): transfer on invoice and on site.
OFFERS = {
    "invoice": "on",
    "on_site": "on",
    "invoice_due_days": "14",
    "account_holder": "Dorfbüro Lommatzsch e. V.",
    "iban": ISSUER["iban"],
    "bic": ISSUER["bic"],
}


@pytest.fixture
def space(db, create_location, create_user):
    """(location, operator, plan) with the location's issuer set up."""
    operator = create_user("op@example.org", role="operator", name="Olga Operator")
    location = create_location(operator, name="Dorfbüro Lommatzsch")
    invoicing.save_issuer(db, operator, location.id, ISSUER)
    billing.save_payment_settings(db, operator, location.id, OFFERS)
    plan = Plan(
        name="Tagespass",
        kind=PlanKind.DAY_PASS,
        price_cents=1500,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    return location, operator, plan


@pytest.fixture
def buy(db):
    """Buy a day pass for next Tuesday (or later) with a payment method."""

    def make(member, plan, method=PaymentMethod.INVOICE, min_days=3, **kw):
        return billing.buy_plan(
            db,
            member,
            plan.id,
            day=next_weekday(1, min_days=min_days),
            payment_method=method,
            **kw,
        )

    return make
