"""Money of cancelled transfer and on-site orders paid back by the operator:
recorded once (retries, double clicks, concurrent requests), leaves the
"to pay back" list, and invoicing hears of it only for what the
cancellation did not already take back."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from booking import events
from booking.billing import services as billing
from booking.billing.models import OfflinePayback, Order, OrderStatus
from booking.errors import BookingConflict, InvalidInput, NotFound
from booking.passes.models import Plan, PlanKind
from tests.conftest import csrf_token, next_weekday
from tests.support.billing_helpers import fresh


@pytest.fixture
def app_config(app_config):
    return {k: v for k, v in app_config.items() if not k.startswith("STRIPE_")}


@pytest.fixture
def sales():
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


@pytest.fixture
def space(db, create_user, create_location):
    operator = create_user("betrieb@example.org", role="operator")
    location = create_location(operator, name="Eilenburg")
    plan = Plan(
        name="Tagespass",
        kind=PlanKind.DAY_PASS,
        price_cents=1200,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    billing.save_payment_settings(
        db,
        operator,
        location.id,
        {
            "invoice": "1",
            "on_site": "1",
            "invoice_due_days": "10",
            "invoice_confirms": "1",
            "account_holder": "Dorfbüro e. V.",
            "iban": "DE89 3704 0044 0532 0130 00",
        },
    )
    return location, operator, plan


def _paid_then_cancelled(db, operator, member, plan, *, paid=1200):
    order = billing.buy_plan(
        db, member, plan.id, day=next_weekday(1, min_days=3), payment_method="invoice"
    )
    billing.record_offline_payment(
        db,
        operator,
        order.id,
        amount_cents=paid,
        kind="bank_transfer",
        paid_on=date.today(),
    )
    if paid == 1200:
        billing.cancel_day_pass(db, member, order.pass_id)
    else:
        billing.close_open_order(db, operator, order.id)
    fresh(db)
    return db.get(Order, order.id)


def test_paid_back_once_and_never_reversed_twice(client, db, space, create_user, sales):
    _location, operator, plan = space
    member = create_user("jana@example.org")
    order = _paid_then_cancelled(db, operator, member, plan)
    assert order.status == OrderStatus.REFUNDED
    # The cancellation took the sale back already.
    assert sales == [("made", order.id, None), ("reversed", order.id, 1200)]
    assert [o.id for o in billing.offline_refunds(db, operator)] == [order.id]
    with pytest.raises(InvalidInput):
        billing.record_payback(
            db,
            operator,
            order.id,
            amount_cents=1300,
            kind="bank_transfer",
            paid_on=date.today(),
        )
    other = create_user("andere@example.org", role="operator")
    with pytest.raises(NotFound):
        billing.record_payback(
            db, other, order.id, amount_cents=1200, kind="cash", paid_on=date.today()
        )
    # Through the page, in German, twice (a double click).
    client.post(
        "/login",
        data={
            "email": operator.email,
            "password": "password123",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get("/billing/payments").get_data(as_text=True)
    assert "Als zurückgezahlt erfassen" in page
    token = csrf_token(client, "/billing/payments")
    form = {
        "amount": "12,00",
        "kind": "bank_transfer",
        "paid_on": date.today().isoformat(),
        "csrf_token": token,
    }
    for _ in range(2):
        response = client.post(f"/billing/orders/{order.id}/payback", data=form)
        assert response.status_code == 303
    fresh(db)
    assert db.scalar(select(func.count()).select_from(OfflinePayback)) == 1
    payback = db.scalar(select(OfflinePayback))
    assert (payback.amount_cents, payback.kind) == (1200, "bank_transfer")
    assert billing.offline_refunds(db, operator) == []
    page = client.get("/billing/payments").get_data(as_text=True)
    assert "Zurückzuzahlen" not in page
    assert len(sales) == 2  # no second sale_reversed


def test_partly_paid_order_closed_is_listed_and_a_missing_reversal_is_sent(
    db, space, create_user, sales
):
    _location, operator, plan = space
    member = create_user("jana@example.org")
    order = _paid_then_cancelled(db, operator, member, plan, paid=500)
    assert order.status == OrderStatus.CANCELLED
    assert [o.id for o in billing.offline_refunds(db, operator)] == [order.id]
    # An order cancelled before sale_reversed was tracked (reversed_cents 0):
    # paying back tells invoicing of what it had not heard.
    order.reversed_cents = 0
    db.commit()
    del sales[:]
    billing.record_payback(
        db, operator, order.id, amount_cents=500, kind="cash", paid_on=date.today()
    )
    assert sales == [("reversed", order.id, 500)]
    with pytest.raises(BookingConflict):
        paid = billing.buy_plan(
            db,
            member,
            plan.id,
            day=next_weekday(2, min_days=3),
            payment_method="invoice",
        )
        billing.record_payback(
            db, operator, paid.id, amount_cents=100, kind="cash", paid_on=date.today()
        )


def test_concurrent_paybacks_record_once(app, db, space, create_user, sales):
    _location, operator, plan = space
    order = _paid_then_cancelled(db, operator, create_user("j@example.org"), plan)
    order_id, operator_id = order.id, operator.id
    db.commit()
    errors: list[BaseException] = []
    results: list[int] = []
    barrier = threading.Barrier(5)

    def record():
        from booking.auth.models import User
        from booking.db import get_db

        with app.app_context():
            session = get_db()
            actor = session.get(User, operator_id)
            barrier.wait()
            try:
                payback = billing.record_payback(
                    session,
                    actor,
                    order_id,
                    amount_cents=1200,
                    kind="cash",
                    paid_on=date.today(),
                )
                results.append(payback.id)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=record) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 5
    fresh(db)
    assert db.scalar(select(func.count()).select_from(OfflinePayback)) == 1
    assert [e for e, _, _ in sales].count("reversed") == 1
