"""The invoice as a PDF/A-3 with its EN 16931 XML embedded (Factur-X).

WeasyPrint renders the template (German, as the invoice is issued in
Germany) as PDF/A-3b; the ``factur-x`` library embeds ``factur-x.xml`` and
writes the XMP metadata naming the profile. Rendered from the invoice's
snapshot, so the same invoice gives the same content every time.
"""

from __future__ import annotations

import warnings

import facturx
from flask import render_template
from flask_babel import force_locale
from weasyprint import HTML

from .einvoice import build_cii
from .issuing import rate_breakdown
from .models import Invoice


def render_pdf(invoice: Invoice) -> bytes:
    xml = build_cii(invoice)
    with force_locale("de"):
        html = render_template(
            "invoicing/invoice_pdf.html",
            invoice=invoice,
            rates=rate_breakdown(invoice),
        )
    with warnings.catch_warnings():
        # WeasyPrint opens its sRGB profile for PDF/A and leaves closing it
        # to the garbage collector (a ResourceWarning, an error in tests).
        warnings.simplefilter("ignore", ResourceWarning)
        pdf = HTML(string=html).write_pdf(pdf_variant="pdf/a-3b")
    return facturx.generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # build_cii checked it
        pdf_metadata={
            "author": invoice.issuer_name,
            "keywords": "Factur-X, Rechnung",
            "title": f"Rechnung {invoice.number}",
            "subject": f"Rechnung {invoice.number} von {invoice.issuer_name}",
        },
        lang="de-DE",
    )
