"""Which plans can be bought here and now: a plan is offered for sale only
when its location (or the network, for network-wide plans) has a way to take
its money (``services.offered_methods``, the one rule). Without Stripe a
network-wide day pass cannot be paid, so pages do not offer it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ..passes.models import Plan
from .models import OrderKind
from .services import offered_methods


def payable_plans(db: Session, plans: Iterable[Plan]) -> list[Plan]:
    """The plans of ``plans`` someone could pay for now, in their order."""
    return [
        plan
        for plan in plans
        if offered_methods(db, plan.location_id, OrderKind(plan.kind))
    ]
