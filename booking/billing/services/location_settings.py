"""A location's ways to pay, set by its operator (or an admin)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ...auth.models import User
from ...db import unit_of_work, utcnow
from ...errors import InvalidInput
from ...spaces.services import get_managed_location
from ...validation import parse_int
from ..models import LocationPaymentSettings
from .methods import payment_settings

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?")


def normalize_iban(value: str) -> str:
    """The IBAN without spaces, upper case; raises InvalidInput unless its
    check digits are right (ISO 13616, mod 97)."""
    iban = re.sub(r"\s+", "", str(value or "")).upper()
    if not _IBAN.fullmatch(iban):
        raise InvalidInput(_l("This is not a valid IBAN."), field="iban")
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        raise InvalidInput(
            _l("This IBAN has a typo (its check digits do not match)."), field="iban"
        )
    return iban


def format_iban(iban: str) -> str:
    """DE89 3704 0044 0532 0130 00: in groups of four, as people read it."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _flag(values: dict[str, Any], name: str) -> bool:
    value = values.get(name)
    if isinstance(value, bool):
        return value
    return str(value or "").lower() in ("1", "on", "true", "yes")


def get_payment_settings(
    db: Session, actor: User, location_id: int
) -> LocationPaymentSettings:
    """The settings (or defaults) of a location the actor runs. Raises
    NotFound, Forbidden."""
    get_managed_location(db, actor, location_id)
    return payment_settings(db, location_id)


def save_payment_settings(
    db: Session,
    actor: User,
    location_id: int,
    values: dict[str, Any],
    *,
    now: datetime | None = None,
) -> LocationPaymentSettings:
    """Set which ways to pay a location offers and its invoice terms. Bank
    transfer needs the account (holder and a valid IBAN). Raises NotFound,
    Forbidden, InvalidInput."""
    now = now or utcnow()
    stripe, invoice, on_site = (
        _flag(values, "stripe"),
        _flag(values, "invoice"),
        _flag(values, "on_site"),
    )
    due_days = parse_int(
        values.get("invoice_due_days") or 14,
        "invoice_due_days",
        low=1,
        high=90,
        message=_l("The payment term is between 1 and 90 days."),
    )
    holder = str(values.get("account_holder") or "").strip()[:120]
    iban = str(values.get("iban") or "").strip()
    bic = re.sub(r"\s+", "", str(values.get("bic") or "")).upper()
    if iban or invoice:
        iban = normalize_iban(iban)
    if bic and not _BIC.fullmatch(bic):
        raise InvalidInput(_l("This is not a valid BIC."), field="bic")
    if invoice and not holder:
        raise InvalidInput(
            _l("Give the account holder for bank transfers."), field="account_holder"
        )
    with unit_of_work(db):
        get_managed_location(db, actor, location_id)
        settings = db.get(LocationPaymentSettings, location_id)
        if settings is None:
            settings = LocationPaymentSettings(location_id=location_id)
            db.add(settings)
        settings.stripe = stripe
        settings.invoice = invoice
        settings.on_site = on_site
        settings.invoice_due_days = due_days
        settings.invoice_confirms = _flag(values, "invoice_confirms")
        settings.account_holder = holder
        settings.iban = iban
        settings.bic = bic
        settings.updated_at = now
    return settings
