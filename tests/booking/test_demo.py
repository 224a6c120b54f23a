"""The demo network shows the product on first start (issue 17 point 10)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select

from booking.bookings.models import Booking
from booking.bookings.rules import plan_for
from booking.db import utcnow
from booking.demo import HISTORY_WEEKS, create_demo
from booking.insight.services import dashboard, usage_csv
from booking.spaces.models import Location, Resource


def test_demo_has_german_names_prices_and_eight_weeks_of_history(db, client, auth):
    create_demo(db)
    today = utcnow().date()
    names = set(db.scalars(select(Resource.name)))
    assert {"Gleisblick 1", "Ecktisch", "Stehpult", "Lehrerzimmer"} <= names
    assert not any(name.startswith("Desk") for name in names)
    tags = {tag for tags in db.scalars(select(Resource.tags)) for tag in tags or []}
    assert {"ruhig", "monitor", "fensterplatz"} <= {t.lower() for t in tags}
    priced = db.scalars(
        select(Resource.name).where(
            (Resource.price_day_cents > 0) | (Resource.price_hour_cents > 0)
        )
    ).all()
    assert "Stehpult" in priced and "Besprechungsraum Mulde" in priced
    assert len(priced) < len(names) / 2  # most desks stay free

    past = db.scalars(
        select(Booking).where(Booking.booked_on < today, Booking.status == "confirmed")
    ).all()
    assert len(past) > 300
    first = min(b.booked_on for b in past)
    assert first <= today - timedelta(weeks=HISTORY_WEEKS) + timedelta(days=3)
    checked = sum(1 for b in past if b.checked_in_at is not None)
    assert 0.7 < checked / len(past) < 0.95
    # Busier week by week: the last full fortnight beats the first.
    early = sum(1 for b in past if b.booked_on < first + timedelta(days=14))
    late = sum(1 for b in past if b.booked_on >= today - timedelta(days=14))
    assert late > early
    # No mail left owed for the history (starting the demo sends none).
    assert not db.scalar(
        select(func.count()).where(
            Booking.mail_due.is_not(None), Booking.booked_on < today
        )
    )
    # A guest booking ahead, for the operator's day view.
    assert (
        db.scalar(select(func.count()).where(Booking.guest_name == "Gisela Gast")) == 1
    )

    # Today's day view is not empty where a space is open today.
    open_today = [
        loc for loc in db.scalars(select(Location)) if plan_for(loc, today).is_open
    ]
    booked_today = db.scalar(
        select(func.count()).where(
            Booking.booked_on == today, Booking.status == "confirmed"
        )
    )
    assert booked_today >= 2 * len(open_today)
    assert not db.scalar(
        select(func.count()).where(Booking.checked_in_at > utcnow())
    )  # nobody checked in ahead of time

    # The operator's charts show those weeks (the spaces opened before them).
    board = dashboard(db, list(db.scalars(select(Location))))
    assert sum(1 for _, share in board.month if share > 0) >= 15
    assert all(share > 0 for day, share in board.by_weekday[:5])

    # The funders' export has rows per space and month, with km saved.
    ids = list(db.scalars(select(Location.id)))
    rows = list(csv.DictReader(io.StringIO(usage_csv(db, ids, first, today))))
    assert len({r["Month"] for r in rows}) >= 2
    assert sum(float(r["Desk-days"]) for r in rows) > 250
    assert sum(float(r["Commuting kilometres saved"]) for r in rows) > 1000

    # Jana's pack pays for the priced desk at Naunhof, and the page says so
    # (in her language, German).
    auth.login("jana@example.org", "landdesk-demo")
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    page = client.get(f"/l/naunhof?date={day.isoformat()}").get_data(as_text=True)
    start = page.index("<strong>Platz 4</strong>")
    assert "1 Tag aus 10er-Karte Naunhof (noch 10)" in page[start : start + 1500]
