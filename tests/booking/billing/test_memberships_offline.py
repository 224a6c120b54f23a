"""Memberships and company budgets paid by bank transfer on invoice or on
site: the first period, held or active at once, monthly renewal by the
renew-memberships job (idempotent, concurrent runs), cancelling at the
period end, the unpaid renewal's reminder, network-wide plans."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from booking import events
from booking.billing import services as billing
from booking.billing.models import Order, OrderStatus, PaymentMethod
from booking.billing.services.periods import add_months, period_end
from booking.db import utcnow
from booking.errors import BookingConflict
from booking.passes.models import Pass, PassStatus, Plan, PlanKind
from tests.conftest import csrf_token
from tests.support.billing_helpers import fresh

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def app_config(app_config):
    """No Stripe key: memberships must be sold and renewed without it."""
    return {k: v for k, v in app_config.items() if not k.startswith("STRIPE_")}


def offers(**values):
    return {
        "invoice": "1",
        "on_site": "1",
        "invoice_due_days": "10",
        "invoice_confirms": "1",
        "account_holder": "Dorfbüro Eilenburg e. V.",
        "iban": "DE89 3704 0044 0532 0130 00",
        **values,
    }


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
        name="Mitgliedschaft",
        kind=PlanKind.MEMBERSHIP,
        price_cents=8900,
        days=8,
        location_id=location.id,
        is_active=True,
    )
    db.add(plan)
    db.commit()
    billing.save_payment_settings(db, operator, location.id, offers())
    return location, operator, plan


@pytest.fixture
def member(create_user):
    return create_user("jana@example.org", name="Jana", locale="de")


def _orders(db, pass_id):
    fresh(db)
    return list(
        db.scalars(select(Order).where(Order.pass_id == pass_id).order_by(Order.id))
    )


def test_periods_keep_their_day_through_short_months():
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert period_end(date(2027, 1, 31), date(2027, 1, 31)) == date(2027, 2, 28)
    assert period_end(date(2027, 1, 31), date(2027, 2, 28)) == date(2027, 3, 31)
    assert period_end(date(2026, 12, 7), date(2026, 12, 7)) == date(2027, 1, 7)


def test_membership_by_invoice_is_active_and_renews_each_month(
    db, space, member, sales
):
    location, _operator, plan = space
    bought_at = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    order = billing.buy_plan(
        db, member, plan.id, payment_method="invoice", now=bought_at
    )
    fresh(db)
    order = db.get(Order, order.id)
    pass_ = db.get(Pass, order.pass_id)
    assert pass_.status == PassStatus.ACTIVE  # the location confirms at once
    assert order.payment_method == PaymentMethod.INVOICE
    assert order.period_starts_on == date(2027, 1, 31)
    assert order.due_on == date(2027, 2, 10)
    assert order.description == "Mitgliedschaft 31.01.2027–27.02.2027"
    assert pass_.current_period_end == datetime(2027, 2, 28, tzinfo=BERLIN)
    assert pass_.renews_here
    assert sales == [("made", order.id, None)]

    # Nothing to renew before the period ends.
    assert billing.renew_memberships(db, now=bought_at + timedelta(days=27)) == {
        "renewed": 0,
        "ended": 0,
    }
    # The job ran late: it opens the missing periods, each once.
    late = datetime(2027, 4, 2, 8, 0, tzinfo=UTC)
    assert billing.renew_memberships(db, now=late)["renewed"] == 1
    assert billing.renew_memberships(db, now=late) == {"renewed": 0, "ended": 0}
    orders = _orders(db, pass_.id)
    assert [o.period_starts_on for o in orders] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]
    renewal = orders[-1]
    assert renewal.status == OrderStatus.PENDING
    assert renewal.payment_method == PaymentMethod.INVOICE
    assert renewal.amount_cents == 8900 and renewal.user_id == member.id
    assert renewal.hold_until is None  # a renewal is never held
    assert renewal.due_on == date(2027, 4, 12)
    assert renewal.description == "Mitgliedschaft 31.03.2027–29.04.2027"
    assert [e for e, _, _ in sales] == ["made"] * 3
    assert db.get(Pass, pass_.id).current_period_end == datetime(
        2027, 4, 30, tzinfo=BERLIN
    )
    assert db.get(Pass, pass_.id).status == PassStatus.ACTIVE
    # Left unpaid past its due date, the renewal gets the one reminder.
    after_due = datetime(2027, 4, 13, 9, 0, tzinfo=UTC)
    assert renewal.id in [o.id for o in billing.orders_to_remind(db, after_due)]
    # A price edit does not change a running membership.
    db.get(Plan, plan.id).price_cents = 9900
    db.commit()
    billing.renew_memberships(db, now=datetime(2027, 5, 1, 8, tzinfo=UTC))
    assert _orders(db, pass_.id)[-1].amount_cents == 8900


def test_held_until_paid_when_the_location_says_so(db, space, member, sales):
    location, operator, plan = space
    billing.save_payment_settings(
        db, operator, location.id, offers(invoice_confirms="")
    )
    now = utcnow()
    order = billing.buy_plan(db, member, plan.id, payment_method="invoice", now=now)
    fresh(db)
    order = db.get(Order, order.id)
    assert db.get(Pass, order.pass_id).status == PassStatus.PENDING
    assert order.hold_until == now + timedelta(days=10)
    # Not renewed while it is not active.
    later = db.get(Pass, order.pass_id).current_period_end + timedelta(hours=1)
    assert billing.renew_memberships(db, now=later)["renewed"] == 0
    billing.record_offline_payment(
        db,
        operator,
        order.id,
        amount_cents=8900,
        kind="bank_transfer",
        paid_on=now.date(),
        now=now,
    )
    fresh(db)
    assert db.get(Pass, order.pass_id).status == PassStatus.ACTIVE
    assert db.get(Order, order.id).status == OrderStatus.PAID
    assert sales == [("made", order.id, None)]  # one sale, when placed


def test_cancelled_at_period_end_is_not_renewed(client, db, space, member, sales):
    _location, _operator, plan = space
    order = billing.buy_plan(db, member, plan.id, payment_method="on_site")
    fresh(db)
    pass_id = db.get(Order, order.id).pass_id
    assert db.get(Order, order.id).due_on is not None
    # Through the member's page, as for a Stripe membership.
    client.post(
        "/login",
        data={
            "email": member.email,
            "password": "password123",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "de"
    page = client.get("/plans").get_data(as_text=True)
    assert "nächster Monat ab" in page and "Tarif wechseln" not in page
    response = client.post(
        f"/passes/{pass_id}/cancel", data={"csrf_token": csrf_token(client, "/plans")}
    )
    assert response.status_code == 303
    fresh(db)
    pass_ = db.get(Pass, pass_id)
    assert pass_.cancel_at_period_end
    assert "läuft bis" in client.get("/plans").get_data(as_text=True)
    after = pass_.current_period_end + timedelta(minutes=5)
    assert billing.renew_memberships(db, now=after) == {"renewed": 0, "ended": 1}
    assert billing.renew_memberships(db, now=after) == {"renewed": 0, "ended": 0}
    fresh(db)
    assert db.get(Pass, pass_id).status == PassStatus.CANCELLED
    assert len(_orders(db, pass_id)) == 1
    assert [e for e, _, _ in sales] == ["made"]


def test_operator_cancelling_an_unpaid_renewal_ends_the_membership(
    db, space, member, sales
):
    _location, operator, plan = space
    order = billing.buy_plan(db, member, plan.id, payment_method="invoice")
    fresh(db)
    pass_ = db.get(Pass, db.get(Order, order.id).pass_id)
    billing.renew_memberships(db, now=pass_.current_period_end + timedelta(hours=1))
    renewal = _orders(db, pass_.id)[-1]
    billing.close_open_order(db, operator, renewal.id)
    fresh(db)
    assert db.get(Pass, pass_.id).status == PassStatus.CANCELLED
    assert ("reversed", renewal.id, 8900) in sales


def test_concurrent_renewal_runs_open_each_period_once(
    app, db, space, member, is_postgres, sales
):
    _location, _operator, plan = space
    order = billing.buy_plan(db, member, plan.id, payment_method="invoice")
    fresh(db)
    pass_ = db.get(Pass, db.get(Order, order.id).pass_id)
    pass_id, due = pass_.id, pass_.current_period_end + timedelta(hours=1)
    db.commit()
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run():
        from booking.db import get_db

        with app.app_context():
            session = get_db()
            barrier.wait()
            try:
                billing.renew_memberships(session, now=due)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    fresh(db)
    count = db.scalar(select(func.count()).where(Order.pass_id == pass_id))
    assert count == 2
    assert [e for e, _, _ in sales] == ["made", "made"]


def test_the_job_renews(app, db, space, member):
    from booking.ops.jobs import JOBS, run_due

    assert "renew-memberships" in [job.name for job in JOBS]
    _location, _operator, plan = space
    order = billing.buy_plan(
        db,
        member,
        plan.id,
        payment_method="invoice",
        now=utcnow() - timedelta(days=40),
    )
    fresh(db)
    pass_id = db.get(Order, order.id).pass_id
    outcomes = run_due(app.extensions["landdesk_db"], db, app.config)
    renewed = [o for o in outcomes if o.job == "renew-memberships"]
    assert renewed and renewed[0].outcome == "ok", renewed
    assert len(_orders(db, pass_id)) >= 2


def test_api_membership_by_invoice_or_on_site_or_400(api, db, space, member):
    location, operator, plan = space
    client = api(member)
    response = client.post(
        f"/api/v1/plans/{plan.id}/purchase", json={"payment_method": "on_site"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["payment_method"] == "on_site"
    billing.save_payment_settings(db, operator, location.id, offers(on_site=""))
    response = client.post(
        f"/api/v1/plans/{plan.id}/purchase", json={"payment_method": "on_site"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_input"


def test_network_wide_plans_are_paid_through_stripe_only(api, db, create_user):
    admin = create_user("netz@example.org", role="admin")
    plan = Plan(name="Netz", kind=PlanKind.MEMBERSHIP, price_cents=5900, is_active=True)
    db.add(plan)
    db.commit()
    assert billing.offered_methods(db, None, "membership") == []
    response = api(create_user("x@example.org")).post(
        f"/api/v1/plans/{plan.id}/purchase", json={"payment_method": "invoice"}
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == "no_payment_method"
    assert "by card" in response.get_json()["message"]
    assert admin.is_admin


def test_a_repeated_purchase_is_one_sale(app, db, space, member, sales):
    _location, _operator, plan = space
    member_id, plan_id = member.id, plan.id
    db.commit()
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def buy():
        from booking.auth.models import User
        from booking.db import get_db

        with app.app_context():
            session = get_db()
            actor = session.get(User, member_id)
            barrier.wait()
            try:
                order = billing.buy_plan(
                    session, actor, plan_id, payment_method="invoice"
                )
                results.append(order.id)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=buy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    fresh(db)
    assert db.scalar(select(func.count()).select_from(Order)) == 1
    assert [e for e, _, _ in sales] == ["made"]
    # Later, it is no retry: the membership is already running.
    later = utcnow() + timedelta(hours=1)
    with pytest.raises(BookingConflict):
        billing.buy_plan(db, member, plan_id, payment_method="invoice", now=later)


def test_each_period_gets_its_invoice(db, space, member):
    from booking.invoicing import services as invoicing
    from booking.invoicing.models import Invoice
    from tests.booking.invoicing.conftest import ISSUER

    location, operator, plan = space
    invoicing.save_issuer(db, operator, location.id, ISSUER)
    order = billing.buy_plan(db, member, plan.id, payment_method="invoice")
    fresh(db)
    pass_ = db.get(Pass, db.get(Order, order.id).pass_id)
    due = pass_.current_period_end + timedelta(hours=1)
    billing.renew_memberships(db, now=due)
    billing.renew_memberships(db, now=due)
    fresh(db)
    invoices = list(db.scalars(select(Invoice).order_by(Invoice.id)))
    assert [i.gross_cents for i in invoices] == [8900, 8900]
    assert [i.number for i in invoices] == ["RE-000001", "RE-000002"]


def test_each_invoice_covers_the_period_its_order_pays(db, space, member):
    """§ 14 Abs. 4 Nr. 6 UStG: the service period is the membership period,
    also when the renewal job ran late and opened two periods at once."""
    from booking.invoicing import services as invoicing
    from booking.invoicing.models import Invoice
    from tests.booking.invoicing.conftest import ISSUER

    location, operator, plan = space
    invoicing.save_issuer(db, operator, location.id, ISSUER)
    bought_at = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    billing.buy_plan(db, member, plan.id, payment_method="invoice", now=bought_at)
    billing.renew_memberships(db, now=datetime(2027, 4, 2, 8, 0, tzinfo=UTC))
    fresh(db)
    invoices = list(db.scalars(select(Invoice).order_by(Invoice.id)))
    assert [(i.service_from, i.service_until) for i in invoices] == [
        (date(2027, 1, 31), date(2027, 2, 27)),
        (date(2027, 2, 28), date(2027, 3, 30)),
        (date(2027, 3, 31), date(2027, 4, 29)),
    ]


def test_account_deletion_waits_for_a_renewing_transfer_membership(
    db, space, member
):
    from booking.billing.privacy import erase_billing

    _location, _operator, plan = space
    order = billing.buy_plan(db, member, plan.id, payment_method="invoice")
    fresh(db)
    with pytest.raises(BookingConflict):
        erase_billing(db, member)
    db.rollback()
    billing.cancel_at_period_end(db, member, db.get(Order, order.id).pass_id)
    fresh(db)
    erase_billing(db, member)  # it ends with its period: nothing renews
