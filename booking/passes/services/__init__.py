"""What passes give: plans and their prices, credits, standing, companies.

One module per concern; other domains import the public services from here
(``from ..passes import services``) and never reach into the modules; the
modules import each other directly, never this package.
"""

from __future__ import annotations

from .companies import (
    add_employee,
    can_manage_company,
    can_see_company,
    companies_for,
    company_passes,
    company_usage,
    create_company,
    employees,
    get_company_for,
    remove_employee,
    set_company_budget,
)
from .credits import (
    DAY,
    MINUTE,
    CreditSummary,
    MembershipSuspended,
    credit_summary,
    grants_24_7,
    has_24_7_access,
    member_standing,
    release_booking,
    remaining,
    remaining_room_minutes,
    settle_booking,
    standing_among,
    usable_passes,
)
from .day_passes import (
    DAY_PARTS,
    NETWORK_DAY_PASS_HORIZON_DAYS,
    NETWORK_TIMEZONE,
    check_day_pass_request,
    day_pass_in_use,
    day_pass_on_sale,
    day_pass_span,
    day_pass_windows,
    day_pass_windows_among,
    day_passes_of,
)
from .operators import (
    can_manage_pass,
    get_pass_for,
    grant_credits,
    ledger,
    list_passes,
)
from .plans import (
    can_manage_plan,
    create_plan,
    new_pass,
    plans_for_operator,
    plans_for_sale,
    update_plan,
)
from .prices import (
    booking_price_cents,
    parse_cents,
    set_resource_prices,
)
from .subscriptions import (
    DEFAULT_GRACE_DAYS,
    apply_subscription,
)

__all__ = [
    "CreditSummary",
    "DAY",
    "DAY_PARTS",
    "DEFAULT_GRACE_DAYS",
    "MINUTE",
    "MembershipSuspended",
    "NETWORK_DAY_PASS_HORIZON_DAYS",
    "NETWORK_TIMEZONE",
    "add_employee",
    "apply_subscription",
    "booking_price_cents",
    "can_manage_company",
    "can_manage_pass",
    "can_manage_plan",
    "can_see_company",
    "check_day_pass_request",
    "day_pass_on_sale",
    "companies_for",
    "company_passes",
    "company_usage",
    "create_company",
    "create_plan",
    "credit_summary",
    "day_pass_in_use",
    "day_pass_span",
    "day_pass_windows",
    "day_pass_windows_among",
    "day_passes_of",
    "employees",
    "get_company_for",
    "get_pass_for",
    "grant_credits",
    "grants_24_7",
    "has_24_7_access",
    "ledger",
    "list_passes",
    "member_standing",
    "standing_among",
    "usable_passes",
    "new_pass",
    "parse_cents",
    "plans_for_operator",
    "plans_for_sale",
    "release_booking",
    "remaining",
    "remaining_room_minutes",
    "remove_employee",
    "set_company_budget",
    "set_resource_prices",
    "settle_booking",
    "update_plan",
]
