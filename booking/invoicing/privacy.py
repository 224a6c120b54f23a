"""Invoices and personal data (docs/invoicing.md, docs/reports.md).

Export: the invoices issued to the member (their own purchases), with their
lines. Deletion: nothing is erased. Invoices must be kept for the legal
retention period (§ 147 AO, § 14b UStG) and name their recipient by law; they
are snapshots, so they keep the name as it was while the account itself is
anonymised.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..auth.models import User
from ..privacy import services as privacy
from .models import Invoice


def export_issued_invoices(db: Session, user: User) -> list[dict]:
    invoices = db.scalars(
        select(Invoice)
        .options(selectinload(Invoice.lines))
        .where(Invoice.user_id == user.id, Invoice.company_id.is_(None))
        .order_by(Invoice.id)
    )
    return [
        {
            "number": invoice.number,
            "kind": invoice.kind,
            "issued_on": invoice.issued_on.isoformat(),
            "issuer": invoice.issuer_name,
            "recipient": invoice.recipient_name,
            "net_cents": invoice.net_cents,
            "vat_cents": invoice.vat_cents,
            "gross_cents": invoice.gross_cents,
            "lines": [
                {
                    "description": line.description,
                    "gross_cents": line.gross_cents,
                    "vat_rate_bp": line.vat_rate_bp,
                }
                for line in invoice.lines
            ],
        }
        for invoice in invoices
    ]


def register_privacy() -> None:
    privacy.EXPORTERS["issued_invoices"] = export_issued_invoices
