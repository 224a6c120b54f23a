"""Fixed desks as rows: who holds a desk, which desk a pass has, letting it go.

Only models here, so that bookings and the passes services can use them
without importing ``fixed_desks`` (which builds on both).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..spaces.models import Resource
from .models import LIVE_PASS_STATUSES, Pass


def fixed_holder(db: Session, pass_id: int) -> int | None:
    """The member whose live fixed-desk pass this is; None once it ended."""
    return db.scalar(
        select(Pass.user_id).where(
            Pass.id == pass_id, Pass.status.in_(LIVE_PASS_STATUSES)
        )
    )


def fixed_holders(db: Session, resources) -> dict[int, int]:
    """Resource id to holder for the resources that are someone's fixed desk
    now. No query when none of them is assigned."""
    pass_ids = {r.fixed_pass_id: r.id for r in resources if r.fixed_pass_id}
    if not pass_ids:
        return {}
    rows = db.execute(
        select(Pass.id, Pass.user_id).where(
            Pass.id.in_(list(pass_ids)), Pass.status.in_(LIVE_PASS_STATUSES)
        )
    )
    return {pass_ids[pass_id]: user_id for pass_id, user_id in rows}


def on_fixed_desks_asked(_sender, *, db: Session, resources) -> dict[int, int]:
    """Answer ``events.fixed_desks_asked`` for bookings (below passes)."""
    return fixed_holders(db, resources)


def fixed_desk_of(db: Session, pass_: Pass) -> Resource | None:
    return db.scalar(select(Resource).where(Resource.fixed_pass_id == pass_.id))


def free_desk_of(db: Session, pass_: Pass) -> None:
    """The membership ended or no longer includes a desk: release it.
    Runs inside the caller's unit of work."""
    db.execute(
        update(Resource)
        .where(Resource.fixed_pass_id == pass_.id)
        .values(fixed_pass_id=None)
        .execution_options(synchronize_session="fetch")
    )
