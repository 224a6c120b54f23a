"""GET /api/v1/invoices (who sees what), the PDF and XRechnung downloads,
recording a payment, and the tax adviser's month export."""

from __future__ import annotations

import csv
import io
from datetime import date

import facturx
from sqlalchemy import select

from booking.billing.models import Order, OrderStatus
from booking.db import utcnow
from booking.invoicing.models import Invoice
from booking.passes.models import Company
from tests.support.billing_helpers import fresh


def test_who_sees_which_invoice(db, api, space, create_user, create_location, buy):
    location, operator, plan = space
    anna = create_user("anna@example.org", name="Anna")
    bert = create_user("bert@example.org", name="Bert")
    buy(anna, plan)
    buy(bert, plan)
    stranger_op = create_user(role="operator")
    create_location(stranger_op)

    def numbers(user):
        return sorted(i["number"] for i in api(user).get("/api/v1/invoices").json)

    assert numbers(anna) == ["RE-000001"]
    assert numbers(bert) == ["RE-000002"]
    assert numbers(operator) == ["RE-000001", "RE-000002"]
    assert numbers(stranger_op) == []
    assert numbers(create_user(role="admin")) == ["RE-000001", "RE-000002"]
    answer = api(anna).get("/api/v1/invoices").json[0]
    assert answer["status"] == "open" and answer["open_cents"] == 1500
    assert (answer["net_cents"], answer["vat_cents"], answer["gross_cents"]) == (
        1261,
        239,
        1500,
    )
    assert answer["lines"][0]["vat_rate_bp"] == 1900


def test_a_company_admin_sees_the_companys_invoices(db, api, space, create_user):
    location, _operator, _plan = space
    boss = create_user(name="Chefin")
    company = Company(
        name="Müller GmbH", admin_user_id=boss.id, location_id=location.id
    )
    db.add(company)
    db.commit()
    from booking import events
    from booking.billing.models import OrderKind, PaymentMethod

    order = Order(
        kind=OrderKind.COMPANY,
        user_id=boss.id,
        company_id=company.id,
        location_id=location.id,
        description="Firmenbudget",
        amount_cents=30000,
        status=OrderStatus.PAID,
        payment_method=PaymentMethod.STRIPE,
        paid_at=utcnow(),
    )
    db.add(order)
    db.flush()
    events.sale_made.send(order, db=db, now=utcnow())
    db.commit()
    (listed,) = api(boss).get("/api/v1/invoices").json
    assert listed["company_id"] == company.id and listed["status"] == "paid"
    assert api(create_user()).get("/api/v1/invoices").json == []


def test_pdf_and_xrechnung_downloads(db, api, space, create_user, buy):
    _location, _operator, plan = space
    anna = create_user(name="Anna")
    buy(anna, plan)
    fresh(db)
    invoice = db.scalar(select(Invoice))
    pdf = api(anna).get(f"/api/v1/invoices/{invoice.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "Rechnung-RE-000001.pdf" in pdf.headers["Content-Disposition"]
    _name, xml = facturx.get_xml_from_pdf(pdf.data, check_xsd=True)
    assert b"RE-000001" in xml
    xr = api(anna).get(f"/api/v1/invoices/{invoice.id}/xrechnung")
    assert xr.status_code == 200 and xr.mimetype == "application/xml"
    assert facturx.xml_check_xsd(xr.data, flavor="factur-x", level="en16931")
    assert b"xrechnung_3.0" in xr.data
    other = create_user()
    assert api(other).get(f"/api/v1/invoices/{invoice.id}/pdf").status_code == 404
    assert api(other).get(f"/api/v1/invoices/{invoice.id}/xrechnung").status_code == 404


def test_recording_a_payment_through_the_api_is_idempotent(
    db, api, space, create_user, buy
):
    _location, operator, plan = space
    member = create_user()
    order = buy(member, plan)
    fresh(db)
    invoice = db.scalar(select(Invoice))
    body = {
        "amount_cents": 500,
        "kind": "bank_transfer",
        "paid_on": date.today().isoformat(),
        "idempotency_key": "bank-line-17",
    }
    for _ in range(2):
        answer = api(operator).post(
            f"/api/v1/invoices/{invoice.id}/payments", json=body
        )
        assert answer.status_code == 200, answer.json
    assert answer.json["open_cents"] == 1000 and answer.json["status"] == "open"
    assert (
        api(member)
        .post(f"/api/v1/invoices/{invoice.id}/payments", json=body)
        .status_code
        == 403
    )
    too_much = {**body, "amount_cents": 5000, "idempotency_key": "x"}
    answer = api(operator).post(
        f"/api/v1/invoices/{invoice.id}/payments", json=too_much
    )
    assert answer.status_code == 400 and answer.json["field"] == "amount_cents"
    rest = {**body, "amount_cents": 1000, "idempotency_key": "bank-line-18"}
    answer = api(operator).post(f"/api/v1/invoices/{invoice.id}/payments", json=rest)
    assert answer.json["status"] == "paid"
    fresh(db)
    assert db.get(Order, order.id).status == OrderStatus.PAID


def test_the_tax_advisers_month_export(
    db, api, space, create_user, create_location, buy
):
    _location, operator, plan = space
    member = create_user(name="Anna")
    order = buy(member, plan)
    fresh(db)
    invoice = db.scalar(select(Invoice))
    api(operator).post(
        f"/api/v1/invoices/{invoice.id}/payments",
        json={
            "amount_cents": 1500,
            "kind": "cash",
            "paid_on": date.today().isoformat(),
        },
    )
    month = invoice.issued_on.strftime("%Y-%m")
    answer = api(operator).get(f"/api/v1/invoices/export?month={month}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    header, lines = rows[0], rows[1:]
    assert header[:3] == ["Satzart", "Datum", "Belegnummer"]
    by_kind = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    sale = by_kind["Rechnung"]
    assert sale["Belegnummer"] == "RE-000001"
    assert (sale["Netto 19 %"], sale["USt 19 %"], sale["Brutto"]) == (
        "12,61",
        "2,39",
        "15,00",
    )
    assert sale["Gegenkonto (Hinweis SKR03)"].startswith("8400")
    payment = by_kind["Zahlung"]
    assert payment["Brutto"] == "15,00" and payment["Zahlungsart"] == "bar"
    assert payment["Gegenkonto (Hinweis SKR03)"] == "1000 Kasse"
    assert len(lines) == 2
    # Another location's operator exports their books only, not what they
    # bought here as a member.
    other_op = create_user(role="operator")
    create_location(other_op)
    buy(other_op, plan)
    answer = api(other_op).get(f"/api/v1/invoices/export?month={month}")
    assert answer.data.decode("utf-8-sig").count("\n") == 1  # the header only
    assert api(member).get(f"/api/v1/invoices/export?month={month}").status_code == 403
    assert api(operator).get("/api/v1/invoices/export?month=2026-13").status_code == 400
    del order
