"""Invoice routes of the JSON API under /api/v1 (contract: invoicing/schemas.py).

Members see their own invoices, company administrators their companies',
operators their locations'. Each invoice comes as a PDF/A-3 with its EN 16931
XML embedded and as an XRechnung.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..api.contract import operation
from ..db import get_db, utcnow
from ..errors import Forbidden, InvalidInput
from ..spaces.services import managed_location_ids
from ..validation import parse_id
from . import export, queries, schemas, services
from .issuing import local_day
from .models import Invoice

api_bp = Blueprint("invoicing_api", __name__, url_prefix="/api/v1")


def invoice_json(
    invoice: Invoice, today: date, standing: queries.Standing | None = None
) -> schemas.Invoice:
    standing = standing or queries.standing(get_db(), invoice, today)
    return schemas.Invoice(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        status=standing.status,
        open_cents=standing.open_cents,
        issued_on=invoice.issued_on,
        service_from=invoice.service_from,
        service_until=invoice.service_until,
        due_on=invoice.due_on,
        payment_method=invoice.payment_method,
        currency=invoice.currency,
        net_cents=invoice.net_cents,
        vat_cents=invoice.vat_cents,
        gross_cents=invoice.gross_cents,
        small_business=invoice.small_business,
        issuer_name=invoice.issuer_name,
        recipient_name=invoice.recipient_name,
        buyer_reference=invoice.buyer_reference,
        location_id=invoice.location_id,
        company_id=invoice.company_id,
        cancels_id=invoice.cancels_id,
        period=invoice.period,
        lines=[
            schemas.InvoiceLine(
                position=line.position,
                description=line.description,
                service_from=line.service_from,
                service_until=line.service_until,
                quantity=line.quantity,
                vat_rate_bp=line.vat_rate_bp,
                net_cents=line.net_cents,
                vat_cents=line.vat_cents,
                gross_cents=line.gross_cents,
            )
            for line in invoice.lines
        ],
        pdf=url_for("invoicing_api.invoice_pdf", invoice_id=invoice.id),
        xrechnung=url_for("invoicing_api.invoice_xrechnung", invoice_id=invoice.id),
    )


def _location_filter(value: str | None) -> list[int] | None:
    if value is None:
        return None
    return [parse_id(value, field="location_id")]


@api_bp.get("/invoices")
@login_required
@operation(
    "The invoices you may see, newest first: your own, your companies', and "
    "those of the locations you run",
    query=schemas.InvoiceQuery,
    answers={200: list[schemas.Invoice]},
)
def invoices(query: schemas.InvoiceQuery):
    db = get_db()
    today = local_day(utcnow())
    rows = queries.visible_invoices(
        db, current_user, location_ids=_location_filter(query.location_id)
    )
    found = queries.standings(db, rows, today)
    return [invoice_json(invoice, today, found[invoice.id]) for invoice in rows]


@api_bp.get("/invoices/<int:invoice_id>")
@login_required
@operation("One invoice", answers={200: schemas.Invoice})
def invoice(invoice_id: int):
    found = queries.get_invoice_for(get_db(), current_user, invoice_id)
    return invoice_json(found, local_day(utcnow()))


def _file(content: bytes, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _file_name(invoice: Invoice, suffix: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in invoice.number)
    return f"Rechnung-{safe}.{suffix}"


@api_bp.get("/invoices/<int:invoice_id>/pdf")
@login_required
@operation(
    "The invoice as PDF/A-3 with its EN 16931 XML embedded (Factur-X / "
    "ZUGFeRD, profile EN 16931)",
    answers={200: bytes},
    media_type="application/pdf",
)
def invoice_pdf(invoice_id: int):
    from .pdf import render_pdf

    found = queries.get_invoice_for(get_db(), current_user, invoice_id)
    return _file(render_pdf(found), "application/pdf", _file_name(found, "pdf"))


@api_bp.get("/invoices/<int:invoice_id>/xrechnung")
@login_required
@operation(
    "The invoice as XRechnung 3.0 (CII syntax); BT-10 carries a public "
    "body's Leitweg-ID",
    answers={200: bytes},
    media_type="application/xml",
)
def invoice_xrechnung(invoice_id: int):
    from .einvoice import build_cii

    found = queries.get_invoice_for(get_db(), current_user, invoice_id)
    return _file(
        build_cii(found, xrechnung=True),
        "application/xml",
        _file_name(found, "xml"),
    )


@api_bp.post("/invoices/<int:invoice_id>/payments")
@login_required
@operation(
    "Record money received against an invoice (bank transfer, cash, card on "
    "site); repeating a request records it once",
    body=schemas.PaymentRecord,
    answers={
        200: schemas.Invoice,
        403: "Not an operator of the invoice's location",
        409: "Nothing is open on this invoice",
    },
)
def record_payment(invoice_id: int, body: schemas.PaymentRecord):
    db = get_db()
    if not current_user.is_operator:
        raise Forbidden(_l("Only its location's operators record payments."))
    try:
        paid_on = date.fromisoformat(body.paid_on)
    except ValueError:
        raise InvalidInput(
            _l("Give the day the money came in."), field="paid_on"
        ) from None
    services.record_payment(
        db,
        current_user,
        invoice_id,
        amount_cents=body.amount_cents,
        kind=body.kind,
        paid_on=paid_on,
        idempotency_key=body.idempotency_key,
    )
    db.expire_all()
    found = queries.get_invoice_for(db, current_user, invoice_id)
    return invoice_json(found, local_day(utcnow()))


@api_bp.get("/invoices/export")
@login_required
@operation(
    "For the tax adviser: the month's invoices and payments as CSV, one line "
    "each, with net and VAT per rate and a counter-account hint",
    query=schemas.ExportQuery,
    answers={200: bytes, 403: "Not an operator"},
    media_type="text/csv",
)
def tax_export(query: schemas.ExportQuery):
    if not current_user.is_operator:
        raise Forbidden(_l("Only operators export invoices."))
    db = get_db()
    month = export.Month.parse(query.month)
    # The books of the locations the caller runs (all for administrators),
    # not the caller's own purchases as a member.
    location_ids = _location_filter(query.location_id)
    if location_ids is None:
        location_ids = managed_location_ids(db, current_user)
    text = export.month_csv(db, current_user, month, location_ids=location_ids)
    return _file(
        text.encode("utf-8-sig"),
        "text/csv",
        f"landdesk-buchhaltung-{query.month}.csv",
    )
