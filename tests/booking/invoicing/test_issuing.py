"""An invoice for every sale: numbers without gaps per issuer, § 14 / § 19
UStG content, cancellation invoices, idempotence under retries and
concurrency."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from booking import events
from booking.billing import services as billing
from booking.billing.models import Order, OrderKind, OrderStatus, PaymentMethod
from booking.db import utcnow
from booking.invoicing import issuing, monthly
from booking.invoicing import services as invoicing
from booking.invoicing.models import Invoice, InvoicedOrder, InvoiceKind
from tests.booking.invoicing.conftest import ISSUER, OFFERS
from tests.conftest import next_weekday
from tests.support.billing_helpers import fresh


def _invoices(db):
    fresh(db)
    return list(db.scalars(select(Invoice).order_by(Invoice.id)))


def test_a_sale_on_invoice_gets_its_invoice_with_every_field(
    db, space, create_user, buy
):
    location, _operator, plan = space
    member = create_user("anna@example.org", name="Anna Muster")
    order = buy(member, plan)
    (invoice,) = _invoices(db)
    assert invoice.number == "RE-000001" and invoice.sequence == 1
    assert invoice.kind == InvoiceKind.INVOICE
    assert invoice.location_id == location.id and invoice.user_id == member.id
    # § 14 Abs. 4 UStG: issuer, tax number / VAT ID, date, number, service
    # date, recipient, net, VAT per rate, gross.
    assert invoice.issuer_name == "Dorfbüro Lommatzsch e. V."
    assert invoice.issuer_address == "Markt 1\n01623 Lommatzsch"
    assert invoice.issuer_tax_number == "203/123/45678"
    assert invoice.issuer_vat_id == "DE123456789"
    assert invoice.recipient_name == "Anna Muster"
    assert invoice.issued_on == issuing.local_day(utcnow())
    # The service date is the pass's day (the fixture buys next Tuesday).
    assert invoice.service_from == next_weekday(1, min_days=3)
    assert (invoice.gross_cents, invoice.vat_cents, invoice.net_cents) == (
        1500,
        239,
        1261,
    )
    (line,) = invoice.lines
    assert (line.vat_rate_bp, line.net_cents, line.vat_cents) == (1900, 1261, 239)
    assert line.order_id == order.id
    # Due after the order's terms (billing's rule), with the IBAN snapshot.
    assert invoice.due_on is not None and invoice.due_on >= invoice.issued_on
    assert invoice.issuer_iban == "DE02120300000000202051"


def test_the_member_gets_the_invoice_by_mail_with_where_to_pay(
    db, space, create_user, buy, smtp
):
    _location, _operator, plan = space
    member = create_user("anna@example.org", name="Anna Muster", locale="de")
    buy(member, plan)
    (invoice,) = _invoices(db)
    mail = smtp.wait_for_message(1)
    assert mail["To"] == "anna@example.org"
    assert mail["Subject"] == "Ihre Rechnung RE-000001 von Dorfbüro Lommatzsch e. V."
    text = mail.get_body(("plain",)).get_content()
    assert "die Rechnung RE-000001 vom" in text and "über 15,00\xa0€" in text
    due = invoice.due_on.strftime("%d.%m.%Y")
    assert f"Bitte überweisen Sie den Betrag bis zum {due} an:" in text
    # Paragraphs, not sentences run together ("…ausgestellt.Bitte …").
    assert "über 15,00\xa0€ ausgestellt.\n\nBitte überweisen" in text
    assert "\nVerwendungszweck: Rechnung RE-000001\n\nDie Rechnung" in text
    assert "\nIBAN: DE02 1203 0000 0000 2020 51\n" in text
    assert "\nVerwendungszweck: Rechnung RE-000001\n" in text
    assert "/account/invoices" in text
    # Issued once, mailed once: a retried sale event sends nothing more.
    order = db.get(Order, invoice.lines[0].order_id)
    events.sale_made.send(order, db=db, now=utcnow())
    time.sleep(0.3)  # inline delivery: a second mail would be there by now
    assert len(smtp.messages) == 1


def test_a_members_invoice_carries_their_billing_address(
    db, space, create_user, buy
):
    from booking.privacy.services import save_billing_address

    _location, _operator, plan = space
    member = create_user("anna@example.org", name="Anna Muster")
    save_billing_address(db, member, "Lindenweg 4\n04838 Eilenburg")
    buy(member, plan)
    (invoice,) = _invoices(db)
    assert invoice.recipient_name == "Anna Muster"
    assert invoice.recipient_address == "Lindenweg 4\n04838 Eilenburg"


def test_numbers_have_no_gaps_and_each_issuer_has_its_own_range(
    db, space, create_user, create_location, buy
):
    _location, _operator, plan = space
    member = create_user()
    for _ in range(3):
        buy(member, plan)
    # A second operator with its own range.
    other_op = create_user(role="operator")
    other = create_location(other_op)
    billing.save_payment_settings(db, other_op, other.id, OFFERS)
    invoicing.save_issuer(db, other_op, other.id, {**_issuer(), "number_prefix": "B-"})
    from booking.passes.models import Plan, PlanKind

    plan2 = Plan(
        name="Tagespass B",
        kind=PlanKind.DAY_PASS,
        price_cents=1000,
        location_id=other.id,
        is_active=True,
    )
    db.add(plan2)
    db.commit()
    buy(member, plan2)
    numbers = [i.number for i in _invoices(db)]
    assert numbers == ["RE-000001", "RE-000002", "RE-000003", "B-000001"]


def _issuer():
    return dict(ISSUER)


def test_a_rolled_back_sale_gives_its_number_back(db, space, create_user, buy):
    _location, _operator, plan = space
    member = create_user()
    buy(member, plan)

    def refuse(order, **kw):
        raise RuntimeError("the unit of work fails after the invoice")

    events.sale_made.connect(refuse)
    try:
        with pytest.raises(RuntimeError):
            buy(member, plan)
    finally:
        events.sale_made.disconnect(refuse)
    buy(member, plan)
    assert [i.number for i in _invoices(db)] == ["RE-000001", "RE-000002"]


def test_one_invoice_per_order_whatever_retries(db, space, create_user, buy):
    _location, _operator, plan = space
    order = buy(create_user(), plan)
    for _ in range(3):
        events.sale_made.send(order, db=db, now=utcnow())
        with db.begin_nested():
            pass
    db.commit()
    assert len(_invoices(db)) == 1
    assert db.scalar(select(func.count()).select_from(InvoicedOrder)) == 1


def test_a_stripe_sale_is_invoiced_as_paid(db, space, create_user):
    location, _operator, _plan = space
    member = create_user()
    order = Order(
        kind=OrderKind.DAY_PASS,
        user_id=member.id,
        location_id=location.id,
        description="Tagespass 2026-12-08",
        amount_cents=1500,
        status=OrderStatus.PAID,
        payment_method=PaymentMethod.STRIPE,
        paid_at=utcnow(),
    )
    db.add(order)
    db.flush()
    # What billing's fulfilment sends once Stripe says paid.
    events.sale_made.send(order, db=db, now=utcnow())
    db.commit()
    (invoice,) = _invoices(db)
    assert invoice.payment_method == "stripe" and invoice.due_on is None
    from booking.invoicing.einvoice import build_cii

    xml = build_cii(invoice)
    assert b"<ram:TotalPrepaidAmount>15.00</ram:TotalPrepaidAmount>" in xml
    assert b"<ram:DuePayableAmount>0.00</ram:DuePayableAmount>" in xml


def test_small_business_invoices_carry_no_vat_and_the_note(db, space, create_user, buy):
    location, operator, plan = space
    invoicing.save_issuer(
        db, operator, location.id, {**_issuer(), "small_business": "on"}
    )
    buy(create_user(), plan)
    (invoice,) = _invoices(db)
    assert invoice.small_business
    assert (invoice.gross_cents, invoice.vat_cents, invoice.net_cents) == (
        1500,
        0,
        1500,
    )
    assert invoice.lines[0].vat_rate_bp == 0
    from booking.invoicing.einvoice import build_cii

    xml = build_cii(invoice).decode()
    assert "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet." in xml
    assert "<ram:CategoryCode>E</ram:CategoryCode>" in xml


def test_issuer_data_changes_never_touch_issued_invoices(db, space, create_user, buy):
    location, operator, plan = space
    buy(create_user(), plan)
    invoicing.save_issuer(
        db, operator, location.id, {**_issuer(), "name": "Neuer Name GmbH"}
    )
    buy(create_user(), plan)
    first, second = _invoices(db)
    assert first.issuer_name == "Dorfbüro Lommatzsch e. V."
    assert second.issuer_name == "Neuer Name GmbH"


def test_a_reversed_sale_gets_a_cancellation_invoice_once(db, space, create_user, buy):
    _location, _operator, plan = space
    member = create_user()
    order = buy(member, plan)
    billing.cancel_day_pass(db, member, order.pass_id)
    original, storno = _invoices(db)
    assert storno.kind == InvoiceKind.CANCELLATION
    assert storno.cancels_id == original.id and storno.number == "RE-000002"
    assert storno.gross_cents == -1500 and storno.vat_cents == -239
    assert storno.lines[0].description.startswith("Storno zu RE-000001")
    # Never more than what was invoiced, however often it is said.
    events.sale_reversed.send(
        db.get(Order, order.id), db=db, now=utcnow(), amount_cents=1500
    )
    db.commit()
    assert len(_invoices(db)) == 2


def test_no_issuer_yet_defers_the_invoice_to_the_daily_job(
    db, create_location, create_user, buy
):
    from booking.passes.models import Plan, PlanKind

    operator = create_user(role="operator")
    location = create_location(operator)
    billing.save_payment_settings(db, operator, location.id, OFFERS)
    plan = Plan(
        name="Tagespass",
        kind=PlanKind.DAY_PASS,
        price_cents=1200,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    order = buy(create_user(), plan)
    assert _invoices(db) == []
    invoicing.save_issuer(db, operator, location.id, _issuer())
    result = monthly.issue_due_invoices(db, now=utcnow())
    assert result["late_invoices"] == 1
    (invoice,) = _invoices(db)
    assert invoice.lines[0].order_id == order.id
    assert monthly.issue_due_invoices(db, now=utcnow())["late_invoices"] == 0


def test_concurrent_sales_get_distinct_gapless_numbers(
    app, db, space, create_user, is_postgres
):
    """Threads (each with its own session and connection) sell at once."""
    _location, _operator, plan = space
    members = [create_user() for _ in range(8)]
    member_ids = [m.id for m in members]
    errors: list[BaseException] = []
    start = threading.Barrier(len(member_ids))

    def sell(user_id: int) -> None:
        with app.app_context():
            from booking.auth.models import User
            from booking.db import get_db
            from tests.conftest import next_weekday

            session = get_db()
            user = session.get(User, user_id)
            start.wait()
            try:
                billing.buy_plan(
                    session,
                    user,
                    plan.id,
                    day=next_weekday(1, min_days=3),
                    payment_method=PaymentMethod.INVOICE,
                )
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=sell, args=(uid,)) for uid in member_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    invoices = _invoices(db)
    assert sorted(i.sequence for i in invoices) == list(range(1, 9))
    assert len({i.number for i in invoices}) == 8
    assert len({i.lines[0].order_id for i in invoices}) == 8


def test_a_waiting_sale_takes_the_number_given_back_by_a_rollback(
    app, db, space, create_user
):
    """One unit takes number 1 and holds the counter; a second sale waits for
    it (row lock / SQLite write lock); the first rolls back; the second gets
    number 1: no gap, no duplicate."""
    _location, _operator, plan = space
    first_id, second_id = create_user().id, create_user().id
    holding, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def stalls(order, **kw):
        if order.user_id == first_id:
            holding.set()
            release.wait(10)
            raise RuntimeError("the first sale fails after its invoice")

    def sell(user_id: int, name: str) -> None:
        with app.app_context():
            from booking.auth.models import User
            from booking.db import get_db
            from tests.conftest import next_weekday

            session = get_db()
            try:
                results[name] = billing.buy_plan(
                    session,
                    session.get(User, user_id),
                    plan.id,
                    day=next_weekday(1, min_days=3),
                    payment_method=PaymentMethod.INVOICE,
                ).id
            except RuntimeError as error:
                results[name] = error

    events.sale_made.connect(stalls)
    try:
        first = threading.Thread(target=sell, args=(first_id, "first"))
        first.start()
        assert holding.wait(10)
        second = threading.Thread(target=sell, args=(second_id, "second"))
        second.start()
        second.join(0.5)
        assert second.is_alive()  # waiting for the counter
        release.set()
        first.join(10)
        second.join(10)
    finally:
        events.sale_made.disconnect(stalls)
    assert isinstance(results["first"], RuntimeError)
    (invoice,) = _invoices(db)
    assert invoice.number == "RE-000001"
    assert invoice.lines[0].order_id == results["second"]


def test_processes_selling_at_once_get_distinct_gapless_numbers(
    db, space, create_user, database_url
):
    """Four processes, each with its own app and connection pool."""
    import multiprocessing

    from tests.support.invoicing_worker import sell

    _location, _operator, plan = space
    user_ids = [create_user().id for _ in range(4)]
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(user_ids))
    workers = [
        context.Process(target=sell, args=(database_url, uid, plan.id, start))
        for uid in user_ids
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    invoices = _invoices(db)
    assert sorted(i.sequence for i in invoices) == [1, 2, 3, 4]
    assert {i.user_id for i in invoices} == set(user_ids)


def test_a_guest_the_operator_books_pays_on_site_and_gets_the_invoice(
    client, auth, db, space, create_resource
):
    """A walk-in guest booked from the day view is not the operator's
    purchase: the booking is confirmed, paid at the counter, and the invoice
    names the guest (not the operator); the operator hands it over."""
    from sqlalchemy import select

    from booking.billing.models import Order, PaymentMethod
    from booking.bookings.models import Booking, BookingStatus
    from booking.invoicing.models import Invoice, InvoicedOrder
    from tests.conftest import next_weekday

    location, operator, _ = space
    desk = create_resource(location, "desk", "Stehpult", prices={"day": 900})
    auth.login("op@example.org")
    day = next_weekday(1)
    back = f"/manage/locations/{location.id}/day?date={day.isoformat()}"
    answer = client.post(
        "/bookings",
        data={
            "date": day.isoformat(),
            "back": back,
            "resource_id": desk.id,
            "for_someone": "1",
            "guest_name": "Hans Wanderer",
            "guest_email": "hans@example.org",
            "csrf_token": auth.csrf(),
        },
    )

    assert answer.status_code == 303 and answer.headers["Location"] == back
    page = client.get(back).get_data(as_text=True)
    assert "Booked for the guest Hans Wanderer: Stehpult on " in page
    assert "To be paid on site: €9.00." in page
    booking = db.scalars(select(Booking)).one()
    assert booking.status == BookingStatus.CONFIRMED
    order = db.scalars(select(Order).where(Order.booking_id == booking.id)).one()
    assert order.payment_method == PaymentMethod.ON_SITE
    assert "Hans Wanderer" in order.description
    invoice = db.scalars(
        select(Invoice)
        .join(InvoicedOrder, InvoicedOrder.invoice_id == Invoice.id)
        .where(InvoicedOrder.order_id == order.id)
    ).one()
    assert (invoice.recipient_name, invoice.recipient_email) == (
        "Hans Wanderer",
        "hans@example.org",
    )
    assert invoice.user_id is None
