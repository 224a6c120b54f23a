"""The access rule as a table: who opens a door when."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from booking.access import rules
from booking.access.rules import AccessFacts, LiveBooking, decide

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def facts(*bookings, operator=False, standing="none", all_hours=False, active=True):
    return AccessFacts(
        door_active=active,
        is_operator=operator,
        standing=standing,
        has_24_7=all_hours,
        bookings=tuple(LiveBooking(i, s, e) for i, (s, e) in enumerate(bookings, 1)),
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (facts(), (False, rules.NO_BOOKING)),
        (facts((NOW - H, NOW + H)), (True, rules.BOOKING)),
        # From the margin (30 min) before the start ...
        (facts((NOW + 30 * M, NOW + 2 * H)), (True, rules.BOOKING)),
        (facts((NOW + 31 * M, NOW + 2 * H)), (False, rules.TOO_EARLY)),
        # ... until the end, which is excluded (half-open).
        (facts((NOW - 2 * H, NOW)), (False, rules.NO_BOOKING)),
        (facts((NOW - 2 * H, NOW + M)), (True, rules.BOOKING)),
        (facts(all_hours=True), (True, rules.MEMBERSHIP)),
        (facts(operator=True), (True, rules.OPERATOR)),
        (facts(operator=True, standing="suspended"), (True, rules.OPERATOR)),
        # A suspended member never, booking or 24/7 plan or not; during the
        # grace period after a failed renewal the member keeps access.
        (facts((NOW - H, NOW + H), standing="suspended"), (False, rules.SUSPENDED)),
        (facts(all_hours=True, standing="suspended"), (False, rules.SUSPENDED)),
        (
            facts((NOW - H, NOW + H), standing="past_due_in_grace"),
            (True, rules.BOOKING),
        ),
        (facts((NOW - H, NOW + H), standing="active"), (True, rules.BOOKING)),
        (facts((NOW - H, NOW + H), active=False), (False, rules.DOOR_INACTIVE)),
        (facts(operator=True, active=False), (False, rules.DOOR_INACTIVE)),
    ],
)
def test_access_rule(case, expected):
    decision = decide(case, NOW)
    assert (decision.allowed, decision.reason) == expected


def test_margin_is_configurable():
    case = facts((NOW + 50 * M, NOW + 2 * H))
    assert not decide(case, NOW).allowed
    assert decide(case, NOW, timedelta(minutes=60)).allowed


def test_too_early_tells_when_the_door_opens():
    decision = decide(facts((NOW + 2 * H, NOW + 3 * H)), NOW)
    assert decision.opens_at == NOW + 2 * H - 30 * M


def _with_day_pass(start, end, **kw):
    return replace(facts(**kw), day_passes=(LiveBooking(7, start, end),))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # A paid day pass: its day's opening hours, with the same margin.
        (_with_day_pass(NOW - H, NOW + H), (True, rules.DAY_PASS)),
        (_with_day_pass(NOW + 30 * M, NOW + 9 * H), (True, rules.DAY_PASS)),
        (_with_day_pass(NOW + 31 * M, NOW + 9 * H), (False, rules.TOO_EARLY)),
        (_with_day_pass(NOW - 9 * H, NOW), (False, rules.NO_BOOKING)),
        (
            _with_day_pass(NOW - H, NOW + H, standing="suspended"),
            (False, rules.SUSPENDED),
        ),
    ],
)
def test_day_pass_rule(case, expected):
    decision = decide(case, NOW)
    assert (decision.allowed, decision.reason) == expected
    assert decision.booking_id is None  # a pass is not a booking
