"""Payments recorded by the operator (transfer, cash, card on site), the one
fulfilment rule they share with Stripe, and the sale events invoicing hears."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from booking import events
from booking.billing import services as billing
from booking.billing.models import (
    OfflinePayment,
    Order,
    OrderStatus,
    PaymentMethod,
)
from booking.errors import BookingConflict, InvalidInput, NotFound
from booking.passes.models import Pass, PassStatus, Plan, PlanKind
from tests.conftest import next_weekday
from tests.support.billing_helpers import buy_and_pay, fresh


@pytest.fixture
def sales():
    """Every sale_made / sale_reversed sent, as (event, order id, amount)."""
    seen: list[tuple[str, int, int | None]] = []

    def made(order, **kw):
        seen.append(("made", order.id, None))

    def reversed_(order, **kw):
        seen.append(("reversed", order.id, kw["amount_cents"]))

    events.sale_made.connect(made)
    events.sale_reversed.connect(reversed_)
    yield seen
    events.sale_made.disconnect(made)
    events.sale_reversed.disconnect(reversed_)


OFFERS_ALL = {
    "stripe": "1",
    "invoice": "1",
    "on_site": "1",
    "invoice_due_days": "14",
    "invoice_confirms": "",
    "account_holder": "Dorfbüro e. V.",
    "iban": "DE89 3704 0044 0532 0130 00",
}


@pytest.fixture
def space(create_location, create_user, db):
    operator = create_user("op@example.org", role="operator")
    location = create_location(operator)
    plan = Plan(
        name="Tagespass",
        kind=PlanKind.DAY_PASS,
        price_cents=1500,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    billing.save_payment_settings(db, operator, location.id, OFFERS_ALL)
    return location, operator, plan


def _buy(db, member, plan, method=PaymentMethod.INVOICE):
    return billing.buy_plan(
        db, member, plan.id, day=next_weekday(1, min_days=3), payment_method=method
    )


def test_invoice_order_is_a_sale_when_placed_and_paid_in_parts(
    db, space, create_user, sales
):
    location, operator, plan = space
    member = create_user("anna@example.org")
    order = _buy(db, member, plan)
    assert sales == [("made", order.id, None)]
    assert order.status == OrderStatus.PENDING and order.payments == []
    today = date.today()
    billing.record_offline_payment(
        db, operator, order.id, amount_cents=500, kind="bank_transfer", paid_on=today
    )
    # The same payment again (a retried request) is recorded once.
    again = billing.record_offline_payment(
        db, operator, order.id, amount_cents=500, kind="bank_transfer", paid_on=today
    )
    fresh(db)
    order = db.get(Order, order.id)
    assert [p.amount_cents for p in order.offline_payments] == [500]
    assert again.id == order.offline_payments[0].id
    assert order.status == OrderStatus.PENDING and order.open_cents == 1000
    assert db.get(Pass, order.pass_id).status == PassStatus.PENDING
    # Too much: the refusal names what is still open.
    with pytest.raises(InvalidInput) as refused:
        billing.record_offline_payment(
            db, operator, order.id, amount_cents=1200, kind="cash", paid_on=today
        )
    assert "(€10.00)" in str(refused.value.message)
    billing.record_offline_payment(
        db, operator, order.id, amount_cents=1000, kind="cash", paid_on=today
    )
    fresh(db)
    order = db.get(Order, order.id)
    assert order.status == OrderStatus.PAID and order.paid_at is not None
    assert db.get(Pass, order.pass_id).status == PassStatus.ACTIVE
    # Made once, at placement: paying does not make it a second time.
    assert sales == [("made", order.id, None)]
    with pytest.raises(BookingConflict):
        billing.record_offline_payment(
            db, operator, order.id, amount_cents=100, kind="cash", paid_on=today
        )


def test_two_equal_payments_with_their_own_keys_both_count(db, space, create_user):
    _location, operator, plan = space
    order = _buy(db, create_user(), plan, PaymentMethod.ON_SITE)
    today = date.today()
    for key in ("form-1", "form-2", "form-2"):
        billing.record_offline_payment(
            db,
            operator,
            order.id,
            amount_cents=500,
            kind="cash",
            paid_on=today,
            idempotency_key=key,
        )
    fresh(db)
    assert db.get(Order, order.id).paid_offline_cents == 1000


def test_only_the_locations_operator_or_an_admin_records(
    db, space, create_user, create_location
):
    _location, operator, plan = space
    member = create_user()
    order = _buy(db, member, plan)
    other = create_user(role="operator")
    create_location(other)
    for actor in (member, other):
        with pytest.raises(NotFound):
            billing.record_offline_payment(
                db,
                actor,
                order.id,
                amount_cents=100,
                kind="cash",
                paid_on=date.today(),
            )
    admin = create_user(role="admin")
    billing.record_offline_payment(
        db, admin, order.id, amount_cents=100, kind="cash", paid_on=date.today()
    )
    fresh(db)
    assert db.get(Order, order.id).paid_offline_cents == 100


@pytest.mark.parametrize(
    "values",
    [
        {"amount_cents": 0, "kind": "cash"},
        {"amount_cents": 1501, "kind": "cash"},
        {"amount_cents": 100, "kind": "bitcoin"},
        {"amount_cents": 100, "kind": "cash", "days": 5},
    ],
)
def test_bad_payments_are_refused(db, space, create_user, values):
    _location, operator, plan = space
    order = _buy(db, create_user(), plan)
    paid_on = date.today() + timedelta(days=values.pop("days", 0))
    with pytest.raises(InvalidInput):
        billing.record_offline_payment(
            db, operator, order.id, paid_on=paid_on, **values
        )
    fresh(db)
    assert db.scalar(select(func.count()).select_from(OfflinePayment)) == 0


def test_a_stripe_order_takes_no_offline_payment(db, space, create_user):
    _location, operator, plan = space
    order = _buy(db, create_user(), plan, PaymentMethod.STRIPE)
    with pytest.raises(BookingConflict):
        billing.record_offline_payment(
            db,
            operator,
            order.id,
            amount_cents=1500,
            kind="cash",
            paid_on=date.today(),
        )


def test_cancelling_an_unpaid_invoice_order_reverses_its_sale(
    db, space, create_user, sales
):
    _location, _operator, plan = space
    member = create_user()
    order = _buy(db, member, plan)
    billing.cancel_day_pass(db, member, order.pass_id)
    fresh(db)
    assert db.get(Order, order.id).status == OrderStatus.CANCELLED
    assert sales == [("made", order.id, None), ("reversed", order.id, 1500)]


def test_stripe_sale_is_made_once_when_paid_and_reversed_on_refund(
    db, space, create_user, sales, stripe_emulator, webhooks
):
    _location, _operator, plan = space
    member = create_user()
    pass_ = buy_and_pay(
        db, member, plan.id, stripe_emulator, webhooks, day=next_weekday(1, min_days=3)
    )
    order = billing.order_for_pass(db, pass_.id)
    assert pass_.status == PassStatus.ACTIVE
    webhooks.deliver()  # redelivery changes nothing
    assert sales == [("made", order.id, None)]
    billing.cancel_day_pass(db, member, pass_.id)
    fresh(db)
    assert sales == [("made", order.id, None), ("reversed", order.id, 1500)]
    webhooks.deliver()  # Stripe's charge.refunded for our own refund
    assert sales[-1] == ("reversed", order.id, 1500) and len(sales) == 2


def test_concurrent_identical_payments_record_once(
    app, db, space, create_user, is_postgres
):
    _location, operator, plan = space
    order = _buy(db, create_user(), plan)
    order_id, operator_id = order.id, operator.id
    db.commit()
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def record():
        from booking.auth.models import User
        from booking.db import get_db

        with app.app_context():
            session = get_db()
            actor = session.get(User, operator_id)
            barrier.wait()
            try:
                billing.record_offline_payment(
                    session,
                    actor,
                    order_id,
                    amount_cents=1500,
                    kind="bank_transfer",
                    paid_on=date.today(),
                )
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    fresh(db)
    order = db.get(Order, order_id)
    assert len(order.offline_payments) == 1
    assert order.status == OrderStatus.PAID


def _record_on_the_page(client, auth, order, amount: str, kind: str):
    """The payments page's "Zahlung erfassen" form of one order, paid today."""
    return client.post(
        f"/billing/orders/{order.id}/payments",
        data={
            "amount": amount,
            "kind": kind,
            "paid_on": date.today().isoformat(),
            "csrf_token": auth.csrf("/billing/payments"),
        },
    )


def test_the_payments_page_lists_what_was_recorded_by_hand(
    client, auth, db, space, create_user, create_location
):
    """After "Zahlung erfassen" the operator sees the payment (a paid order
    leaves the open list), and only at their own locations."""
    _location, operator, plan = space
    member = create_user("anna@example.org", name="Anna Muster")
    order = _buy(db, member, plan)
    auth.login(operator.email)
    client.set_cookie("lang", "de")
    response = _record_on_the_page(client, auth, order, "15,00", "bank_transfer")
    assert response.status_code == 303
    page = client.get("/billing/payments").get_data(as_text=True)
    recorded = page[page.index('id="recorded-heading"') :]
    assert "Von Hand erfasst" in recorded
    assert "15,00" in recorded and "Überweisung" in recorded
    assert "Anna Muster" in recorded and f"Bestellung {order.id}" in recorded
    assert "bezahlt" in recorded
    other = create_user("other@example.org", role="operator")
    create_location(other)
    auth.logout()
    auth.login("other@example.org")
    assert "Anna Muster" not in client.get("/billing/payments").get_data(as_text=True)


def test_a_refused_payment_says_why_in_its_card_and_keeps_what_was_typed(
    client, auth, db, space, create_user
):
    """On a phone the card is where the page scrolls to: the message stands
    there, and "zwölf" is not silently replaced by the open amount."""
    _location, operator, plan = space
    order = _buy(db, create_user("anna@example.org", name="Anna Muster"), plan)
    auth.login(operator.email)
    client.set_cookie("lang", "de")
    response = _record_on_the_page(client, auth, order, "zwölf", "cash")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#order-{order.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    card = page[page.index(f'id="order-{order.id}"') :]
    card = card[: card.index("</li>")]
    assert 'class="flash error"' in card and "Betrag" in card
    assert 'value="zwölf"' in card
    assert '<option value="cash" selected>' in card
    assert 'class="flash error"' not in page[: page.index(f'id="order-{order.id}"')]
    fresh(db)
    assert db.get(type(order), order.id).paid_offline_cents == 0
