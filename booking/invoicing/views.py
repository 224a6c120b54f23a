"""Invoice pages: members' "Invoices", operators' open invoices with payment
recording, and the operator's invoice details (the issuer)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from ..db import get_db, utcnow
from ..errors import DomainError, InvalidInput
from ..passes.models import Company
from ..security import operator_required
from ..spaces.models import Location
from ..spaces.services import managed_location_ids
from . import queries, services
from .issuing import local_day

bp = Blueprint("invoicing", __name__)


def _rows(db, invoices, today):
    found = queries.standings(db, invoices, today)
    return [(invoice, found[invoice.id]) for invoice in invoices]


@bp.get("/account/invoices")
@login_required
def mine():
    return _render_mine(get_db())


def _render_mine(db, *, company_error=None, company_values=None, status=200):
    today = local_day(utcnow())
    invoices = queries.visible_invoices(db, current_user)
    # An operator's own page shows what is theirs; their locations' invoices
    # are on the operator page.
    if current_user.is_operator:
        invoices = [
            invoice
            for invoice in invoices
            if invoice.user_id == current_user.id or invoice.company_id is not None
        ]
    companies = list(
        db.scalars(select(Company).where(Company.admin_user_id == current_user.id))
    )
    return (
        render_template(
            "invoicing/mine.html",
            rows=_rows(db, invoices, today),
            today=today,
            companies=companies,
            company_error=company_error or {},
            company_values=company_values or {},
        ),
        status,
    )


@bp.post("/account/invoices/company/<int:company_id>")
@login_required
def save_company(company_id: int):
    db = get_db()
    try:
        services.save_company_billing(db, current_user, company_id, request.form)
    except DomainError as error:
        if error.status == 404:
            raise
        db.rollback()
        return _render_mine(
            db,
            company_error={company_id: (error.field, str(error.message))},
            company_values={company_id: request.form},
            status=400,
        )
    flash(gettext("Invoice details saved."), "success")
    return redirect(url_for("invoicing.mine") + "#company", 303)


def _my_locations(db) -> list[Location]:
    ids = managed_location_ids(db, current_user)
    query = select(Location).order_by(Location.name)
    if ids is not None:
        query = query.where(Location.id.in_(ids))
    return list(db.scalars(query))


@bp.get("/operator/invoices")
@operator_required
def operator_invoices():
    db = get_db()
    today = local_day(utcnow())
    show = request.args.get("show", "open")
    locations = _my_locations(db)
    invoices = queries.visible_invoices(
        db, current_user, location_ids=[loc.id for loc in locations]
    )
    rows = _rows(db, invoices, today)
    if show == "open":
        rows = [row for row in rows if row[1].status in ("open", "overdue")]
    elif show == "overdue":
        rows = [row for row in rows if row[1].status == "overdue"]
    last_month = today.replace(day=1).toordinal() - 1
    return render_template(
        "invoicing/operator.html",
        rows=rows,
        show=show,
        today=today,
        export_month=date.fromordinal(last_month).strftime("%Y-%m"),
        this_month=today.strftime("%Y-%m"),
        has_issuer=any(services.location_issuer(db, loc.id) for loc in locations),
    )


def _amount_cents(text: str) -> int:
    """ "12,50" or "12.50" or "12" euros -> 1250 cents."""
    cleaned = (text or "").strip().replace("€", "").replace(" ", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        euros_part, _, cents_part = cleaned.partition(".")
        if not euros_part.isdigit() or (cents_part and not cents_part.isdigit()):
            raise ValueError
        cents = int(euros_part) * 100 + int((cents_part + "00")[:2] or 0)
    except ValueError:
        raise InvalidInput(
            gettext("Enter the amount in euros, for example 12,50."),
            field="amount",
        ) from None
    return cents


@bp.post("/operator/invoices/<int:invoice_id>/payments")
@operator_required
def record_payment(invoice_id: int):
    db = get_db()
    try:
        try:
            paid_on = date.fromisoformat(request.form.get("paid_on", ""))
        except ValueError:
            raise InvalidInput(
                gettext("Give the day the money came in."), field="paid_on"
            ) from None
        services.record_payment(
            db,
            current_user,
            invoice_id,
            amount_cents=_amount_cents(request.form.get("amount", "")),
            kind=request.form.get("kind", ""),
            paid_on=paid_on,
            idempotency_key=request.form.get("form_key") or None,
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(url_for("invoicing.operator_invoices"), 303)
    flash(gettext("Payment recorded."), "success")
    return redirect(url_for("invoicing.operator_invoices"), 303)


@bp.get("/operator/invoicing")
@operator_required
def settings():
    db = get_db()
    return _render_settings(db)


def _render_settings(db, *, errors=None, values=None, status=200):
    locations = _my_locations(db)
    entries = [(loc, services.location_issuer(db, loc.id)) for loc in locations]
    return (
        render_template(
            "invoicing/settings.html",
            entries=entries,
            errors=errors or {},
            values=values or {},
            with_issuer=[loc for loc, issuer in entries if issuer is not None],
        ),
        status,
    )


FIELDS = (
    "name",
    "street",
    "postcode",
    "city",
    "tax_number",
    "vat_id",
    "small_business",
    "iban",
    "bic",
    "email",
    "phone",
    "payment_terms_days",
    "number_prefix",
    "is_network_default",
)


@bp.post("/operator/invoicing/<int:location_id>")
@operator_required
def save_settings(location_id: int):
    db = get_db()
    form = {name: request.form.get(name, "") for name in FIELDS}
    try:
        same_as = request.form.get("same_as")
        if same_as:
            services.share_issuer(db, current_user, location_id, int(same_as))
        else:
            services.save_issuer(db, current_user, location_id, form)
    except (DomainError, ValueError) as error:
        if isinstance(error, DomainError) and error.status in (403, 404):
            raise
        db.rollback()
        message = str(getattr(error, "message", gettext("The input is not valid.")))
        field = getattr(error, "field", None) or "name"
        return _render_settings(
            db,
            errors={location_id: {field: message}},
            values={location_id: form},
            status=400,
        )
    flash(gettext("Invoice details saved."), "success")
    return redirect(url_for("invoicing.settings") + f"#location-{location_id}", 303)
