"""A separate process that sells a day pass on invoice (the invoice-number
concurrency test starts several at once)."""

from __future__ import annotations


def sell(database_url: str, user_id: int, plan_id: int, start) -> None:
    from booking import create_app
    from booking.auth.models import User
    from booking.billing import services as billing
    from booking.billing.models import PaymentMethod
    from booking.db import get_db
    from tests.conftest import TEST_CONFIG, next_weekday

    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    with app.app_context():
        db = get_db()
        user = db.get(User, user_id)
        start.wait(60)
        billing.buy_plan(
            db,
            user,
            plan_id,
            day=next_weekday(1, min_days=3),
            payment_method=PaymentMethod.INVOICE,
        )
    app.extensions["landdesk_db"].dispose()
