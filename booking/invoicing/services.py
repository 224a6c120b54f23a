"""Setting up the issuer of a location, and recording payments of invoices."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban

from ..auth.models import Role, User
from ..db import unit_of_work, utcnow
from ..errors import BookingConflict, Forbidden, InvalidInput, NotFound
from ..i18n import euro_amount
from ..spaces.services import can_manage, get_location
from .models import Invoice, InvoiceCounter, Issuer, IssuerLocation
from .queries import get_invoice_for, open_orders

_VAT_ID = re.compile(r"^DE\d{9}$")
_TAX_NUMBER = re.compile(r"^[0-9/ ]{10,20}$")
_POSTCODE = re.compile(r"^\d{5}$")
_PREFIX = re.compile(r"^[A-Za-z0-9/-]{0,12}$")


def location_issuer(db: Session, location_id: int) -> Issuer | None:
    """The issuer set up for the location itself (no network fallback)."""
    return db.scalar(
        select(Issuer)
        .join(IssuerLocation, IssuerLocation.issuer_id == Issuer.id)
        .where(IssuerLocation.location_id == location_id)
    )


def issuer_locations(db: Session, issuer_id: int) -> list[int]:
    return list(
        db.scalars(
            select(IssuerLocation.location_id).where(
                IssuerLocation.issuer_id == issuer_id
            )
        )
    )


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """The issuer's fields checked; InvalidInput names the first bad one."""

    def text(name: str, limit: int) -> str:
        value = str(values.get(name) or "").strip()
        if len(value) > limit:
            raise InvalidInput(_l("This is too long."), field=name)
        return value

    out: dict[str, Any] = {
        "name": text("name", 200),
        "street": text("street", 200),
        "postcode": text("postcode", 10),
        "city": text("city", 100),
        "tax_number": text("tax_number", 40),
        "vat_id": text("vat_id", 20).replace(" ", "").upper(),
        "iban": text("iban", 42).replace(" ", "").upper(),
        "bic": text("bic", 11).replace(" ", "").upper(),
        "email": text("email", 254),
        "phone": text("phone", 40),
        "number_prefix": text("number_prefix", 12) or "RE-",
        "small_business": str(values.get("small_business") or "").lower()
        in ("1", "true", "on", "yes"),
    }
    for name in ("name", "street", "city"):
        if not out[name]:
            raise InvalidInput(_l("Please fill in this field."), field=name)
    if not _POSTCODE.match(out["postcode"]):
        raise InvalidInput(
            _l("Enter a German postcode of five digits."), field="postcode"
        )
    if not out["tax_number"] and not out["vat_id"]:
        raise InvalidInput(
            _l("An invoice needs your tax number or your VAT ID."), field="tax_number"
        )
    if out["vat_id"] and not _VAT_ID.match(out["vat_id"]):
        raise InvalidInput(
            _l("A German VAT ID is DE followed by nine digits."), field="vat_id"
        )
    if out["tax_number"] and not _TAX_NUMBER.match(out["tax_number"]):
        raise InvalidInput(
            _l("A tax number has 10 to 13 digits, with / or spaces."),
            field="tax_number",
        )
    if out["iban"] and not stdnum_iban.is_valid(out["iban"]):
        raise InvalidInput(_l("This IBAN is not valid."), field="iban")
    if out["bic"] and not stdnum_bic.is_valid(out["bic"]):
        raise InvalidInput(_l("This BIC is not valid."), field="bic")
    # XRechnung needs the seller's e-mail and telephone (BT-34, BR-DE-2..7).
    if "@" not in out["email"]:
        raise InvalidInput(_l("Enter a valid e-mail address."), field="email")
    if not re.match(r"^\+?[0-9 ()/-]{6,40}$", out["phone"]):
        raise InvalidInput(_l("Enter a telephone number."), field="phone")
    if not _PREFIX.match(out["number_prefix"]):
        raise InvalidInput(
            _l("Use letters, digits, - or / (at most 12)."), field="number_prefix"
        )
    try:
        terms = int(str(values.get("payment_terms_days") or "14").strip())
    except ValueError:
        terms = -1
    if not 0 <= terms <= 90:
        raise InvalidInput(
            _l("Payment terms are 0 to 90 days."), field="payment_terms_days"
        )
    out["payment_terms_days"] = terms
    return out


def save_issuer(
    db: Session,
    actor: User,
    location_id: int,
    values: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> Issuer:
    """Set up or change the issuer of a location (its operator's data).

    An issuer serves every location linked to it, so only someone who runs
    all of them may change it. The number prefix is fixed once an invoice
    has been issued (the range goes on without gaps)."""
    now = now or utcnow()
    with unit_of_work(db):
        get_location(db, location_id)
        if not can_manage(db, actor, location_id):
            raise Forbidden(_l("You do not run this location."))
        data = _clean(values)
        network_default = actor.role == Role.ADMIN and str(
            values.get("is_network_default") or ""
        ).lower() in ("1", "true", "on", "yes")
        issuer = location_issuer(db, location_id)
        if issuer is None:
            issuer = Issuer(**data, created_at=now, updated_at=now)
            db.add(issuer)
            db.flush()
            db.add(InvoiceCounter(issuer_id=issuer.id, last_number=0))
            db.add(IssuerLocation(location_id=location_id, issuer_id=issuer.id))
        else:
            for other in issuer_locations(db, issuer.id):
                if not can_manage(db, actor, other):
                    raise Forbidden(
                        _l("This issuer also serves locations you do not run.")
                    )
            issued = db.scalar(select(exists().where(Invoice.issuer_id == issuer.id)))
            if issued and data["number_prefix"] != issuer.number_prefix:
                raise BookingConflict(
                    _l("The number range has invoices: its prefix stays."),
                    field="number_prefix",
                )
            for name, value in data.items():
                setattr(issuer, name, value)
            issuer.updated_at = now
        if actor.role == Role.ADMIN:
            issuer.is_network_default = network_default
        db.flush()
        return issuer


def share_issuer(db: Session, actor: User, location_id: int, from_location_id: int):
    """Let a location use the issuer of another location the actor runs (one
    operator, one number range for all its spaces)."""
    with unit_of_work(db):
        for loc in (location_id, from_location_id):
            get_location(db, loc)
            if not can_manage(db, actor, loc):
                raise Forbidden(_l("You do not run this location."))
        issuer = location_issuer(db, from_location_id)
        if issuer is None:
            raise InvalidInput(
                _l("That location has no invoice details yet."), field="same_as"
            )
        link = db.get(IssuerLocation, location_id)
        if link is None:
            db.add(IssuerLocation(location_id=location_id, issuer_id=issuer.id))
        else:
            link.issuer_id = issuer.id
        db.flush()
        return issuer


def record_payment(
    db: Session,
    actor: User,
    invoice_id: int,
    *,
    amount_cents: int,
    kind: str,
    paid_on: date,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> list[int]:
    """An operator records money received against an invoice: billing's
    ``record_offline_payment`` for the invoice's open orders, oldest first,
    until the amount is used up (one order for most invoices; a company's
    month has several). Answers the ids of the orders paid into."""
    from ..billing.services import record_offline_payment

    now = now or utcnow()
    with unit_of_work(db):
        invoice = get_invoice_for(db, actor, invoice_id)
        orders = open_orders(db, invoice)
        if not orders:
            raise BookingConflict(_l("This invoice has nothing open."))
        still_open = sum(order.open_cents for order in orders)
        if amount_cents > still_open:
            raise InvalidInput(
                _l(
                    "That is more than is still open on this invoice (%(open)s).",
                    open=euro_amount(still_open),
                ),
                field="amount_cents",
            )
        paid: list[int] = []
        left = amount_cents
        for order in orders:
            if left <= 0:
                break
            part = min(left, order.open_cents)
            key = f"invoice-{invoice.id}:{idempotency_key}" if idempotency_key else None
            record_offline_payment(
                db,
                actor,
                order.id,
                amount_cents=part,
                kind=kind,
                paid_on=paid_on,
                now=now,
                idempotency_key=key,
            )
            paid.append(order.id)
            left -= part
        return paid


# Leitweg-ID: coarse address (2 to 12 digits), optional fine address (up to
# 30 letters or digits), two check digits (KoSIT, Leitweg-ID format 2.0).
_LEITWEG_ID = re.compile(r"^\d{2,12}(-[A-Za-z0-9]{1,30})?-\d{2}$")


def save_company_billing(
    db: Session, actor: User, company_id: int, values: Mapping[str, Any]
):
    """A company's invoice address, order reference and, for a public body,
    its Leitweg-ID: set by its administrator, an operator of its location or
    a network administrator. Only new invoices carry the change."""
    from ..passes.models import Company

    address = str(values.get("billing_address") or "").strip()
    reference = str(values.get("order_reference") or "").strip()
    leitweg = str(values.get("leitweg_id") or "").strip().upper()
    if len(address) > 500:
        raise InvalidInput(_l("This is too long."), field="billing_address")
    if len(reference) > 60:
        raise InvalidInput(_l("This is too long."), field="order_reference")
    if leitweg and not _LEITWEG_ID.match(leitweg):
        raise InvalidInput(
            _l("A Leitweg-ID looks like 04011000-12345-03."), field="leitweg_id"
        )
    with unit_of_work(db):
        company = db.get(Company, company_id)
        allowed = company is not None and (
            actor.role == Role.ADMIN
            or company.admin_user_id == actor.id
            or (
                company.location_id is not None
                and can_manage(db, actor, company.location_id)
            )
        )
        if not allowed:
            raise NotFound(_l("There is no such company."))
        company.billing_address = address
        company.order_reference = reference
        company.leitweg_id = leitweg
        return company
