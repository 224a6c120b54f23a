"""Members hear a few days ahead that their membership renews (issue 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from booking.notifications.services import remind_renewals
from booking.passes.models import Pass, Plan


def _membership(db, user, *, renews_in: timedelta, cancel_at_period_end=False):
    plan = Plan(name="Flex 8", kind="membership", price_cents=8900, currency="EUR")
    db.add(plan)
    db.flush()
    pass_ = Pass(
        plan_id=plan.id,
        kind="membership",
        user_id=user.id,
        status="active",
        valid_from=date.today() - timedelta(days=20),
        current_period_end=datetime.now(UTC) + renews_in,
        cancel_at_period_end=cancel_at_period_end,
    )
    db.add(pass_)
    db.commit()
    return pass_


def test_renewal_is_announced_once(db, smtp, create_user):
    member = create_user("mia@example.org", locale="de")
    _membership(db, member, renews_in=timedelta(days=2))
    assert remind_renewals(db) == 1
    mail = smtp.wait_for_message()
    assert mail["To"] == "mia@example.org"
    assert "Flex 8" in mail.get_body(("plain",)).get_content()
    # cron runs again: nothing more
    assert remind_renewals(db) == 0
    assert len(smtp.messages) == 1


def test_no_notice_too_early_or_when_ending(db, smtp, create_user):
    _membership(db, create_user(), renews_in=timedelta(days=10))
    _membership(
        db, create_user(), renews_in=timedelta(days=1), cancel_at_period_end=True
    )
    assert remind_renewals(db) == 0
    assert smtp.messages == []
