"""Companies and public employers get one invoice a month for their people's
usage, with their order reference or Leitweg-ID, paid by transfer; the job
issues it once per company and month."""

from __future__ import annotations

from datetime import UTC, date, datetime

import facturx
from sqlalchemy import func, select

from booking import events
from booking.billing.models import Order, OrderKind, OrderStatus, PaymentMethod
from booking.bookings.models import Booking
from booking.invoicing import monthly
from booking.invoicing.einvoice import build_cii
from booking.invoicing.models import Invoice, InvoicedOrder, InvoiceKind
from booking.ops import jobs
from booking.passes.models import Company, CreditEntry, Pass, PassStatus, Plan, PlanKind
from tests.support.billing_helpers import fresh

NOV = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def _company_sale(db, company, location, amount, when, description):
    order = Order(
        kind=OrderKind.COMPANY,
        user_id=company.admin_user_id,
        company_id=company.id,
        location_id=location.id,
        description=description,
        amount_cents=amount,
        status=OrderStatus.PENDING,
        payment_method=PaymentMethod.INVOICE,
        created_at=when,
    )
    db.add(order)
    db.flush()
    events.sale_made.send(order, db=db, now=when)
    db.commit()
    return order


def _public_employer(db, create_user, location):
    boss = create_user(name="Amtsleiterin")
    company = Company(
        name="Gemeinde Käbschütztal",
        admin_user_id=boss.id,
        location_id=location.id,
        billing_address="Hauptstraße 3\n01665 Käbschütztal",
        leitweg_id="14627090-KT001-12",
    )
    db.add(company)
    db.commit()
    return company


def test_one_monthly_invoice_per_company_with_the_leitweg_id(
    db, space, create_user, create_resource
):
    location, _operator, _plan = space
    company = _public_employer(db, create_user, location)
    first = _company_sale(db, company, location, 30000, NOV, "Firmenbudget 2026-11")
    second = _company_sale(
        db, company, location, 4500, NOV.replace(day=20), "Besprechungsraum 2026-11-20"
    )
    # Deferred: no invoice at the sale itself.
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Invoice)) == 0
    # Their people's usage: two desk-days of one employee on the budget.
    employee = create_user(name="Erik Beispiel")
    desk = create_resource(location)
    plan = Plan(name="Budget", kind=PlanKind.COMPANY, price_cents=30000, days=10)
    db.add(plan)
    db.flush()
    budget = Pass(
        plan_id=plan.id,
        kind=PlanKind.COMPANY,
        company_id=company.id,
        status=PassStatus.ACTIVE,
        valid_from=date(2026, 11, 1),
    )
    db.add(budget)
    db.flush()
    for day in (date(2026, 11, 3), date(2026, 11, 4)):
        booking = Booking(
            user_id=employee.id,
            resource_id=desk.id,
            location_id=location.id,
            starts_at=datetime(day.year, day.month, day.day, 8, tzinfo=UTC),
            ends_at=datetime(day.year, day.month, day.day, 16, tzinfo=UTC),
            booked_on=day,
            part="full",
            status="confirmed",
        )
        db.add(booking)
        db.flush()
        db.add(
            CreditEntry(
                pass_id=budget.id,
                delta=-1,
                period="2026-11",
                booking_id=booking.id,
                location_id=location.id,
                booked_on=day,
            )
        )
    db.commit()

    result = monthly.issue_due_invoices(db, now=DEC_1)
    assert result["company_invoices"] == 1
    # The job again, and the month once more: still one invoice.
    assert monthly.issue_due_invoices(db, now=DEC_1)["company_invoices"] == 0
    assert monthly.issue_company_month(db, company.id, "2026-11", now=DEC_1)
    fresh(db)
    (invoice,) = db.scalars(select(Invoice)).all()
    assert invoice.kind == InvoiceKind.COLLECTIVE and invoice.period == "2026-11"
    assert invoice.gross_cents == 34500 and invoice.payment_method == "invoice"
    assert invoice.buyer_reference == "14627090-KT001-12" and invoice.is_public_body
    assert invoice.issued_on == date(2026, 12, 1)
    assert invoice.due_on == date(2026, 12, 15)  # the issuer's 14 days
    descriptions = [line.description for line in invoice.lines]
    assert descriptions[:2] == ["Firmenbudget 2026-11", "Besprechungsraum 2026-11-20"]
    usage = invoice.lines[2]
    assert usage.description == "Nutzung: Erik Beispiel, Schreibtischtage"
    assert (usage.quantity, usage.gross_cents) == (2, 0)
    assert {o.order_id for o in db.scalars(select(InvoicedOrder))} == {
        first.id,
        second.id,
    }
    xml = build_cii(invoice, xrechnung=True)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:BuyerReference>14627090-KT001-12</ram:BuyerReference>" in xml


def test_an_order_reference_goes_on_the_month_and_the_job_is_registered(
    db, space, create_user
):
    location, _operator, _plan = space
    boss = create_user(name="Chef")
    company = Company(
        name="Müller GmbH",
        admin_user_id=boss.id,
        location_id=location.id,
        order_reference="PO-4711",
    )
    db.add(company)
    db.commit()
    _company_sale(db, company, location, 20000, NOV, "Firmenbudget 2026-11")
    assert "issue-invoices" in {job.name for job in jobs.JOBS}
    monthly.issue_due_invoices(db, now=DEC_1)
    fresh(db)
    invoice = db.scalar(select(Invoice))
    assert invoice.buyer_reference == "PO-4711" and not invoice.is_public_body
    xml = build_cii(invoice)
    assert b"<ram:IssuerAssignedID>PO-4711</ram:IssuerAssignedID>" in xml


def test_an_order_taken_back_leaves_the_rest_of_the_month_open(db, space, create_user):
    from booking.invoicing.queries import standing

    location, _operator, _plan = space
    company = _public_employer(db, create_user, location)
    keep = _company_sale(db, company, location, 30000, NOV, "Firmenbudget 2026-11")
    drop = _company_sale(db, company, location, 4500, NOV, "Raum 2026-11-12")
    monthly.issue_due_invoices(db, now=DEC_1)
    fresh(db)
    month = db.scalar(select(Invoice))
    order = db.get(Order, drop.id)
    order.status = OrderStatus.CANCELLED
    events.sale_reversed.send(order, db=db, now=DEC_1, amount_cents=4500)
    db.commit()
    fresh(db)
    month = db.get(Invoice, month.id)
    found = standing(db, month, date(2026, 12, 2))
    assert (found.status, found.open_cents) == ("open", 30000)
    storno = db.scalar(select(Invoice).where(Invoice.cancels_id == month.id))
    assert storno.gross_cents == -4500 and storno.lines[0].order_id == drop.id
    assert standing(db, month, date(2027, 1, 1)).status == "overdue"
    assert keep.id
