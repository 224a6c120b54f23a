"""Credits and standing: how a booking draws on a pass, and who may enter.

``settle_booking`` runs inside ``create_booking``'s unit of work (called by
``billing.settlement``) and decides: free, paid from a credit (membership,
company budget, pack) or still owed, which billing holds for payment.
``member_standing`` is the one predicate the door-access rule asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from ...auth.models import User
from ...bookings.models import Booking
from ...bookings.rules import BookableLocation, BookableResource
from ...db import utcnow
from ...errors import DomainError
from ...spaces.hours import local_date
from ..models import (
    DATED_KINDS,
    NETWORK_TIMEZONE,
    CompanyMember,
    CreditEntry,
    Pass,
    PassStatus,
    PlanKind,
    Standing,
)
from ..queries import fixed_desk_of
from .prices import booking_price_cents

# Which entitlement pays first: a day pass bought for that very day (it
# lapses otherwise), the member's own subscription, then the employer's
# budget, then a prepaid pack (whose days do not lapse monthly).
_PREFERENCE = {
    PlanKind.DAY_PASS: 0,
    PlanKind.MEMBERSHIP: 1,
    PlanKind.COMPANY: 2,
    PlanKind.PACK: 3,
}

_USABLE = (PassStatus.ACTIVE, PassStatus.PAST_DUE)
# Ledger units: desk-days, meeting-room minutes.
DAY = "day"
MINUTE = "minute"


class MembershipSuspended(DomainError):
    status = 402
    code = "membership_suspended"
    default_message = _l(
        "Your membership payment is overdue. New bookings are paused until it "
        "is paid: please update your payment method."
    )


def settle_booking(
    db: Session,
    booking: Booking,
    *,
    resource: BookableResource,
    location: BookableLocation,
    holder: User,
    now: datetime,
) -> int:
    """Inside create_booking's unit: free, or paid from a credit. Returns the
    cents still owed (0 when settled), which billing holds for payment.

    A free resource costs no query. Otherwise the holder's passes are read
    under a row lock and a credit is consumed. Raises MembershipSuspended for
    a member whose grace has run out.
    """
    price = booking_price_cents(resource, booking)
    if price == 0:
        return 0
    passes = passes_of(db, holder, location.id, lock=True)
    if any(p.standing(now) == Standing.SUSPENDED for p in passes) and not any(
        p.standing(now) == Standing.ACTIVE for p in passes
    ):
        raise MembershipSuspended()
    consume = _consume if resource.is_day_bookable else _consume_room_minutes
    for candidate in passes:
        if consume(db, candidate, booking, now=now):
            booking.settled_by = "credit"
            return 0
    return price


def _holder_filter(user_id):
    employer = select(CompanyMember.company_id).where(
        CompanyMember.user_id == user_id, CompanyMember.removed_at.is_(None)
    )
    return or_(Pass.user_id == user_id, Pass.company_id.in_(employer))


# passes_of(db, holder, None), built once for the door rule's hot path.
_USABLE_PASSES = (
    select(Pass)
    .where(_holder_filter(bindparam("holder")), Pass.status.in_(_USABLE))
    .order_by(Pass.id)
)


def passes_of(
    db: Session, holder: User, location_id: int | None, *, lock: bool = False
) -> list[Pass]:
    query = select(Pass).where(_holder_filter(holder.id), Pass.status.in_(_USABLE))
    if location_id is not None:
        query = query.where(
            or_(Pass.location_id.is_(None), Pass.location_id == location_id)
        )
    if lock and db.get_bind().dialect.name == "postgresql":
        # Two bookings drawing on one budget (two employees, two tabs) count
        # credits one after the other.
        query = query.with_for_update(of=Pass)
    return _by_preference(db.scalars(query.order_by(Pass.id)))


def _by_preference(passes: Iterable[Pass]) -> list[Pass]:
    return sorted(passes, key=lambda p: _PREFERENCE[PlanKind(p.kind)])


def _used(db: Session, pass_: Pass, period: str, unit: str = DAY) -> int:
    total = db.scalar(
        select(func.coalesce(func.sum(CreditEntry.delta), 0)).where(
            CreditEntry.pass_id == pass_.id,
            CreditEntry.period == period,
            CreditEntry.unit == unit,
        )
    )
    return -int(total or 0)


def remaining(db: Session, pass_: Pass, day: date) -> int | None:
    """Credits left in the period of ``day``; None for unlimited."""
    if pass_.credits is None:
        return None
    return max(0, pass_.credits - _used(db, pass_, pass_.period_of(day)))


def remaining_room_minutes(db: Session, pass_: Pass, day: date) -> int | None:
    """Included meeting-room minutes left in the month of ``day``; None if the
    plan includes none."""
    if not pass_.room_hours:
        return None
    used = _used(db, pass_, pass_.period_of(day), MINUTE)
    return max(0, pass_.room_hours * 60 - used)


def _is_valid_on(pass_: Pass, day: date) -> bool:
    return pass_.valid_from <= day and (
        pass_.valid_until is None or day <= pass_.valid_until
    )


def covers_room_minutes(
    db: Session, pass_: Pass, booking: Booking, *, now: datetime
) -> bool:
    """A room booking fully covered by the plan's included hours; otherwise
    it is paid in full (no split between hours and money). Also what the
    pages quote (quotes.quote)."""
    if not pass_.room_hours or pass_.standing(now) not in (
        Standing.ACTIVE,
        Standing.PAST_DUE_IN_GRACE,
    ):
        return False
    if not _is_valid_on(pass_, booking.booked_on):
        return False
    minutes = int((booking.ends_at - booking.starts_at).total_seconds()) // 60
    left = remaining_room_minutes(db, pass_, booking.booked_on) or 0
    return minutes <= left


def _consume_room_minutes(
    db: Session, pass_: Pass, booking: Booking, *, now: datetime
) -> bool:
    if not covers_room_minutes(db, pass_, booking, now=now):
        return False
    minutes = int((booking.ends_at - booking.starts_at).total_seconds()) // 60
    db.add(
        CreditEntry(
            pass_id=pass_.id,
            unit=MINUTE,
            delta=-minutes,
            period=pass_.period_of(booking.booked_on),
            booking_id=booking.id,
            location_id=booking.location_id,
            booked_on=booking.booked_on,
            reason="booking",
            actor_id=booking.created_by_id,
            created_at=now,
        )
    )
    return True


def covers_day(db: Session, pass_: Pass, booking: Booking, *, now: datetime) -> bool:
    """Whether a credit of ``pass_`` pays for a desk booking (what _consume
    takes, and what the pages quote: quotes.quote)."""
    if pass_.standing(now) not in (Standing.ACTIVE, Standing.PAST_DUE_IN_GRACE):
        return False
    if not _is_valid_on(pass_, booking.booked_on):
        return False
    if pass_.day_part and booking.part != pass_.day_part:
        # A half-day pass pays for that half only.
        return False
    period = pass_.period_of(booking.booked_on)
    return pass_.credits is None or _used(db, pass_, period) < pass_.credits


def _consume(db: Session, pass_: Pass, booking: Booking, *, now: datetime) -> bool:
    if not covers_day(db, pass_, booking, now=now):
        return False
    period = pass_.period_of(booking.booked_on)
    db.add(
        CreditEntry(
            pass_id=pass_.id,
            delta=-1,
            period=period,
            booking_id=booking.id,
            location_id=booking.location_id,
            booked_on=booking.booked_on,
            reason="booking",
            actor_id=booking.created_by_id,
            created_at=now,
        )
    )
    return True


def release_booking(
    db: Session, booking: Booking, *, actor: User, now: datetime
) -> None:
    """Inside a cancellation's unit: give back the credit a booking took.
    Bookings paid with money are billing's (billing.settlement)."""
    consumed = list(
        db.scalars(select(CreditEntry).where(CreditEntry.booking_id == booking.id))
    )
    balance = sum(entry.delta for entry in consumed)
    if consumed and balance < 0:
        first = consumed[0]
        db.add(
            CreditEntry(
                pass_id=first.pass_id,
                unit=first.unit,
                delta=-balance,
                period=first.period,
                booking_id=booking.id,
                location_id=booking.location_id,
                booked_on=booking.booked_on,
                reason="cancelled",
                actor_id=actor.id,
                created_at=now,
            )
        )


@dataclass(frozen=True)
class CreditSummary:
    pass_id: int
    name: str
    kind: str
    remaining: int | None  # None: unlimited
    standing: Standing
    room_minutes: int | None = None  # included room time left; None: none
    valid_until: date | None = None  # packs
    company: str | None = None  # drawn from an employer's budget
    cancel_at_period_end: bool = False
    grace_until: datetime | None = None
    # Fixed-desk memberships: the desk's name, "" while none is assigned.
    fixed_desk: str | None = None
    # Paid by transfer or on site: renewed here; the next period's first day.
    renews_here: bool = False
    renews_on: date | None = None

    @property
    def last_day(self) -> date | None:
        """The last day of the current period (the day before renewal)."""
        return self.renews_on - timedelta(days=1) if self.renews_on else None


def _fixed_desk_name(db: Session, pass_: Pass) -> str | None:
    if not pass_.plan.fixed_desk:
        return None
    desk = fixed_desk_of(db, pass_)
    return desk.name if desk is not None else ""


def credit_summary(
    db: Session, user: User, location_id: int | None, day: date, now: datetime
) -> list[CreditSummary]:
    """What the booking page shows: days left this month (or in the pack).

    Packs and day passes that are not valid on ``day`` (run out, not started,
    bought for another date) are left out: they cannot pay for it.
    """
    return [
        CreditSummary(
            p.id,
            p.plan.name,
            p.kind,
            remaining(db, p, day),
            p.standing(now),
            room_minutes=remaining_room_minutes(db, p, day),
            valid_until=p.valid_until,
            company=p.company.name if p.company_id else None,
            cancel_at_period_end=p.cancel_at_period_end,
            grace_until=p.grace_until,
            fixed_desk=_fixed_desk_name(db, p),
            renews_here=p.renews_here,
            renews_on=(
                local_date(p.current_period_end, NETWORK_TIMEZONE)
                if p.renews_here
                else None
            ),
        )
        for p in passes_of(db, user, location_id)
        if p.kind not in DATED_KINDS or _is_valid_on(p, day)
    ]


def member_standing(db: Session, user: User, now: datetime | None = None) -> Standing:
    """The best standing among the person's memberships and employer budgets.

    ACTIVE, PAST_DUE_IN_GRACE (a renewal failed, the grace period runs: access
    continues), SUSPENDED (grace over: no new bookings, no door) or NONE.
    """
    return standing_among(passes_of(db, user, None), now or utcnow())


def usable_passes(db: Session, user: User) -> list[Pass]:
    """The person's and their employers' usable passes, read once for the
    door rule (``standing_among``, ``grants_24_7``, day passes, fixed desk)."""
    return _by_preference(db.scalars(_USABLE_PASSES, {"holder": user.id}))


def standing_among(passes: Iterable[Pass], now: datetime) -> Standing:
    """``member_standing`` over passes already read (``usable_passes``)."""
    standings = {
        p.standing(now)
        for p in passes
        if p.kind in (PlanKind.MEMBERSHIP, PlanKind.COMPANY)
    }
    for standing in (
        Standing.ACTIVE,
        Standing.PAST_DUE_IN_GRACE,
        Standing.SUSPENDED,
    ):
        if standing in standings:
            return standing
    return Standing.NONE


def has_24_7_access(
    db: Session, user: User, location_id: int, now: datetime | None = None
) -> bool:
    """Door access outside opening hours: an active (or in-grace) 24/7 plan
    valid at this location. A suspended member never."""
    return grants_24_7(passes_of(db, user, location_id), location_id, now or utcnow())


def grants_24_7(passes: Iterable[Pass], location_id: int, now: datetime) -> bool:
    """``has_24_7_access`` over passes already read (``usable_passes``)."""
    return any(
        p.access_24_7
        and p.kind in (PlanKind.MEMBERSHIP, PlanKind.COMPANY)
        and (p.location_id is None or p.location_id == location_id)
        and p.standing(now) in (Standing.ACTIVE, Standing.PAST_DUE_IN_GRACE)
        for p in passes
    )
