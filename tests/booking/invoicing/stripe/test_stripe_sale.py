"""A Stripe sale gets its invoice too: paid through the Stripe emulator, the
verified webhook makes the sale (billing) and invoicing issues the invoice in
the same unit; a refund issues the cancellation invoice."""

from __future__ import annotations

import facturx
from sqlalchemy import select

from booking.billing import services as billing
from booking.billing.models import Order, OrderStatus, Payment
from booking.bookings.services import BookingRequest, create_booking
from booking.invoicing import services as invoicing
from booking.invoicing.einvoice import build_cii
from booking.invoicing.models import Invoice, InvoiceKind
from tests.booking.invoicing.conftest import ISSUER
from tests.conftest import next_weekday
from tests.support.billing_helpers import fresh


def test_a_desk_paid_by_card_is_invoiced_and_its_refund_cancelled(
    db, create_location, create_resource, create_user, stripe_emulator, webhooks
):
    operator = create_user(role="operator")
    location = create_location(operator)
    invoicing.save_issuer(db, operator, location.id, ISSUER)
    desk = create_resource(location, "desk", name="Fensterplatz")
    desk.price_day_cents = 1500
    db.commit()
    member = create_user("anna@example.org", name="Anna")
    booking = create_booking(
        db, member, BookingRequest(desk.id, on=next_weekday(1, min_days=3))
    )
    order = billing.order_for_booking(db, booking.id)
    billing.start_checkout(
        db, member, order.id, success_url="http://x/ok", cancel_url="http://x/no"
    )
    payment = db.get(Payment, order.payments[-1].id)
    fresh(db)
    assert db.scalar(select(Invoice)) is None  # not a sale before the money
    stripe_emulator.pay(payment.stripe_checkout_session_id)
    webhooks.deliver()
    webhooks.deliver()  # a redelivery changes nothing
    fresh(db)
    assert db.get(Order, order.id).status == OrderStatus.PAID
    (invoice,) = db.scalars(select(Invoice)).all()
    assert invoice.payment_method == "stripe" and invoice.gross_cents == 1500
    assert invoice.service_from == booking.booked_on
    xml = build_cii(invoice)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:DuePayableAmount>0.00</ram:DuePayableAmount>" in xml

    billing.refund_payment(db, operator, payment.id, reason="Raum gesperrt")
    webhooks.deliver()
    fresh(db)
    original, storno = db.scalars(select(Invoice).order_by(Invoice.id)).all()
    assert storno.kind == InvoiceKind.CANCELLATION and storno.cancels_id == original.id
    assert storno.gross_cents == -1500 and storno.number == "RE-000002"
