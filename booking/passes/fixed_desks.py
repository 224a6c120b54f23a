"""Fixed desks: a membership that comes with a desk of one's own.

An operator assigns one desk of the plan's location to a live fixed-desk
membership (``Resource.fixed_pass_id``). While the pass is live the desk is
the member's on every open day: others cannot book it (bookings.services
asks ``queries.fixed_holder``), availability shows it taken, and the member's doors
open during opening hours without a booking. The assignment ends when the
membership ends (``free_desk_of``) or the operator releases it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..bookings.models import ACTIVE_STATUSES, Booking
from ..bookings.queries import location_closed_on
from ..db import unit_of_work, utcnow
from ..errors import BookingConflict, InvalidInput
from ..spaces.hours import local_date
from ..spaces.models import Location, Resource, ResourceKind
from .models import LIVE_PASS_STATUSES, Pass, PassStatus, PlanKind
from .queries import fixed_desk_of, fixed_holder, fixed_holders
from .services.day_passes import day_pass_span
from .services.operators import get_pass_for


def fixed_desks_of(db: Session, user: User) -> list[tuple[Pass, Resource]]:
    """The person's live fixed-desk memberships with their desks."""
    rows = db.execute(
        select(Pass, Resource)
        .join(Resource, Resource.fixed_pass_id == Pass.id)
        .where(Pass.user_id == user.id, Pass.status.in_(LIVE_PASS_STATUSES))
        .order_by(Pass.id)
    )
    return [(p, r) for p, r in rows]


def desks_to_assign(db: Session, pass_: Pass) -> list[tuple[Resource, bool]]:
    """The desks of the pass's location, each with whether another live
    membership holds it already."""
    desks = list(
        db.scalars(
            select(Resource)
            .where(
                Resource.location_id == pass_.location_id,
                Resource.kind == ResourceKind.DESK,
                Resource.is_active.is_(True),
            )
            .order_by(Resource.position, Resource.name)
        )
    )
    holders = fixed_holders(db, desks)
    return [(d, d.id in holders and d.fixed_pass_id != pass_.id) for d in desks]


def assign_fixed_desk(
    db: Session,
    actor: User,
    pass_id: int,
    resource_id: int | None,
    *,
    now: datetime | None = None,
) -> Resource | None:
    """Give a fixed-desk membership its desk, move it, or (``resource_id``
    None) release it. The desk row is locked, so a booking of it cannot slip
    in between the checks and the assignment.

    Raises NotFound/Forbidden (not the operator's pass), InvalidInput (not a
    fixed-desk membership, not a desk of its location) and BookingConflict
    (ended membership, someone else's desk, other people's bookings ahead).
    """
    now = now or utcnow()
    with unit_of_work(db):
        pass_ = get_pass_for(db, actor, pass_id)
        if pass_.kind != PlanKind.MEMBERSHIP or not pass_.plan.fixed_desk:
            raise InvalidInput(_l("This plan comes without a fixed desk."))
        if pass_.status not in LIVE_PASS_STATUSES:
            raise BookingConflict(_l("This membership has ended."))
        current = fixed_desk_of(db, pass_)
        if resource_id is None:
            if current is not None:
                current.fixed_pass_id = None
            return None
        query = select(Resource).where(Resource.id == resource_id)
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        desk = db.scalar(query)
        if (
            desk is None
            or desk.location_id != pass_.location_id
            or desk.kind != ResourceKind.DESK
            or not desk.is_active
        ):
            raise InvalidInput(
                _l("Choose a desk of this membership's location."),
                field="resource_id",
            )
        if desk.fixed_pass_id not in (None, pass_.id):
            if fixed_holder(db, desk.fixed_pass_id) is not None:
                raise BookingConflict(_l("This desk is already a member's fixed desk."))
        others = db.scalar(
            select(func.count(Booking.id)).where(
                Booking.resource_id == desk.id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.ends_at > now,
                Booking.user_id != pass_.user_id,
            )
        )
        if others:
            raise BookingConflict(
                _l(
                    "Other people have %(num)d upcoming bookings of this desk: "
                    "cancel or move them first.",
                    num=others,
                )
            )
        if current is not None and current.id != desk.id:
            current.fixed_pass_id = None
            db.flush()
        desk.fixed_pass_id = pass_.id
    return desk


def fixed_desk_windows(
    db: Session,
    user: User,
    location: Location,
    now: datetime,
    *,
    among: Iterable[Pass] | None = None,
) -> list[tuple[int, datetime, datetime]]:
    """(pass id, from, until): the opening hours of today and tomorrow at
    ``location`` during which the person's fixed desk opens its doors.
    A suspended member is refused by the access rule before these count.
    ``among``: the person's usable passes if already read; when none of them
    is their own, nobody holds a fixed desk for them and nothing is queried."""
    if among is not None and not any(p.user_id == user.id for p in among):
        return []
    pass_ids = list(
        db.scalars(
            select(Pass.id)
            .join(Resource, Resource.fixed_pass_id == Pass.id)
            .where(
                Pass.user_id == user.id,
                Pass.status.in_((PassStatus.ACTIVE, PassStatus.PAST_DUE)),
                Resource.location_id == location.id,
            )
        )
    )
    if not pass_ids:
        return []
    today = local_date(now, location.timezone)
    windows = []
    for day in (today, today + timedelta(days=1)):
        span = day_pass_span(location, day, None)
        if span is None or span[1] <= now or location_closed_on(db, location.id, day):
            continue
        windows += [(pass_id, span[0], span[1]) for pass_id in pass_ids]
    return windows
