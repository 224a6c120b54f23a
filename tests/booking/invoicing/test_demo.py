"""The demo (issue 19 point 8): a newcomer's day pass bought by transfer has
its invoice, whose PDF opens."""

from __future__ import annotations

import facturx
from sqlalchemy import select

from booking.auth.models import User
from booking.billing import services as billing
from booking.billing.models import PaymentMethod
from booking.demo import create_demo
from booking.invoicing.models import Invoice
from booking.passes.models import Plan, PlanKind
from tests.conftest import next_weekday
from tests.support.billing_helpers import fresh


def test_a_demo_day_pass_by_transfer_has_its_invoice_pdf(db, api):
    create_demo(db, password="password123")
    jana = db.scalar(select(User).where(User.email == "jana@example.org"))
    plan = db.scalar(
        select(Plan).where(Plan.kind == PlanKind.DAY_PASS).order_by(Plan.id)
    )
    billing.buy_plan(
        db,
        jana,
        plan.id,
        day=next_weekday(1, min_days=3),
        payment_method=PaymentMethod.INVOICE,
    )
    fresh(db)
    invoice = db.scalar(select(Invoice))
    assert invoice.number == "DEMO-000001" and invoice.user_id == jana.id
    (listed,) = api(jana).get("/api/v1/invoices").json
    pdf = api(jana).get(listed["pdf"])
    assert pdf.status_code == 200
    _name, xml = facturx.get_xml_from_pdf(pdf.data, check_xsd=True)
    assert b"DEMO-000001" in xml
