"""Plans for sale, the member's passes, company accounts, operator tools."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from ..auth.models import User
from ..billing import services as billing_services
from ..billing.offers import payable_plans
from ..bookings import queries as booking_queries
from ..bookings.rules import parse_date
from ..bookings.services import holder_for_email
from ..db import get_db, utcnow
from ..errors import DomainError, InvalidInput
from ..i18n import localdate
from ..security import local_path, operator_required, public_url_for
from ..spaces.hours import local_date
from ..spaces.services import get_network, list_locations, managed_location_ids
from ..validation import parse_id, parse_int
from . import fixed_desks, invitations, queries, services

bp = Blueprint("passes", __name__)


@bp.app_context_processor
def _credit_helpers():
    def credits_for(location=None, day: date | None = None):
        """Days left for the person looking, on passes valid at ``location``
        (or anywhere)."""
        if not current_user.is_authenticated:
            return []
        now = utcnow()
        if day is None:
            day = local_date(now, location.timezone) if location else now.date()
        location_id = location.id if location is not None else None
        return services.credit_summary(get_db(), current_user, location_id, day, now)

    return {"credits_for": credits_for}


def _back(default: str) -> str:
    return local_path(request.form.get("back"), default)


@bp.get("/plans")
def plans():
    db = get_db()
    now = utcnow()
    mine = (
        services.credit_summary(db, current_user, None, now.date(), now)
        if current_user.is_authenticated
        else []
    )
    # Only what can be paid: without Stripe, no network-wide plan.
    on_sale = payable_plans(db, services.plans_for_sale(db))
    return render_template(
        "passes/plans.html",
        plans=on_sale,
        # Without a Stripe key nothing mentions Stripe (issue 19).
        stripe_configured=billing_services.stripe_configured(),
        mine=mine,
        today=local_date(now, services.NETWORK_TIMEZONE),
        day_passes=(
            services.day_passes_of(db, current_user)
            if current_user.is_authenticated
            else []
        ),
        switch_to={
            kind: [p for p in on_sale if p.kind == kind]
            for kind in ("membership", "company")
        },
    )


@bp.post("/plans/<int:plan_id>/buy")
@login_required
def buy(plan_id: int):
    db = get_db()
    company_id = request.form.get("company_id", type=int)
    try:
        day = parse_date(request.form["date"]) if request.form.get("date") else None
        order = billing_services.buy_plan(
            db,
            current_user,
            plan_id,
            company_id=company_id,
            day=day,
            part=request.form.get("part") or None,
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(_back(url_for("passes.plans")), 303)
    return redirect(url_for("billing.order", order_id=order.id), 303)


@bp.post("/day-passes/<int:pass_id>/cancel")
@login_required
def cancel_day_pass(pass_id: int):
    try:
        order = billing_services.cancel_day_pass(get_db(), current_user, pass_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
    else:
        refunded = order is not None and order.status == "refunded"
        if refunded and order.payment_method != "stripe":
            message = gettext("Day pass cancelled. The space pays the amount back.")
        elif refunded:
            message = gettext("Day pass cancelled. The payment is refunded in full.")
        else:
            message = gettext("Day pass cancelled.")
        flash(message, "success")
    return redirect(_back(url_for("passes.plans")), 303)


@bp.post("/passes/<int:pass_id>/cancel")
@login_required
def cancel(pass_id: int):
    try:
        pass_ = billing_services.cancel_at_period_end(get_db(), current_user, pass_id)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
    else:
        if pass_ is not None and pass_.renews_here:
            last_day = local_date(
                pass_.current_period_end, services.NETWORK_TIMEZONE
            ) - timedelta(days=1)
            message = gettext(
                "Your membership ends after %(day)s.",
                day=localdate(last_day, fmt="medium"),
            )
        else:
            message = gettext("Your membership ends when the current month is over.")
        flash(message, "success")
    return redirect(_back(url_for("passes.plans")), 303)


@bp.post("/passes/<int:pass_id>/change")
@login_required
def change(pass_id: int):
    try:
        billing_services.change_plan(
            get_db(),
            current_user,
            pass_id,
            request.form.get("plan_id", type=int) or 0,
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
    else:
        flash(
            gettext(
                "Plan changed. The unused part of this month is credited on "
                "your next invoice."
            ),
            "success",
        )
    return redirect(_back(url_for("passes.plans")), 303)


# --- operator ---------------------------------------------------------------


def _my_locations(db):
    ids = managed_location_ids(db, current_user)
    return [
        loc
        for loc in list_locations(db, include_inactive=True)
        if ids is None or loc.id in ids
    ]


@bp.route("/operator/plans", methods=["GET", "POST"])
@operator_required
def operator_plans():
    db = get_db()
    if request.method == "POST":
        try:
            services.create_plan(db, current_user, request.form.to_dict())
        except DomainError as error:
            flash(str(error.message), "error")
            return _render_operator_plans(db), error.status
        flash(gettext("Plan created."), "success")
        return redirect(url_for("passes.operator_plans"), 303)
    return _render_operator_plans(db)


def _render_operator_plans(db):
    plans = services.plans_for_operator(db, current_user)
    return render_template(
        "passes/operator_plans.html",
        plans=plans,
        editable={p.id for p in plans if services.can_manage_plan(db, current_user, p)},
        locations=_my_locations(db),
    )


@bp.post("/operator/plans/<int:plan_id>")
@operator_required
def edit_plan(plan_id: int):
    values = {
        k: v
        for k, v in request.form.to_dict().items()
        if k in ("name", "price", "days", "room_hours")
    }
    values["is_active"] = request.form.get("is_active", "")
    try:
        services.update_plan(get_db(), current_user, plan_id, values)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(str(error.message), "error")
    else:
        flash(gettext("Plan saved."), "success")
    return redirect(url_for("passes.operator_plans"), 303)


@bp.post("/operator/resources/<int:resource_id>/prices")
@operator_required
def resource_prices(resource_id: int):
    try:
        services.set_resource_prices(
            get_db(), current_user, resource_id, request.form.to_dict()
        )
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(str(error.message), "error")
    else:
        flash(gettext("Prices saved."), "success")
    return redirect(_back(url_for("passes.operator_plans")), 303)


@bp.get("/operator/members")
@operator_required
def members():
    db = get_db()
    now = utcnow()
    return render_template(
        "passes/members.html",
        passes=services.list_passes(db, current_user),
        companies=services.companies_for(db, current_user),
        people=booking_queries.people_who_booked(
            db, managed_location_ids(db, current_user)
        ),
        now=now,
    )


@bp.route("/operator/passes/<int:pass_id>", methods=["GET", "POST"])
@operator_required
def pass_detail(pass_id: int):
    db = get_db()
    pass_ = services.get_pass_for(db, current_user, pass_id)
    if request.method == "POST":
        try:
            services.grant_credits(
                db,
                current_user,
                pass_id,
                days=request.form.get("days", type=int) or 0,
                reason=request.form.get("reason", ""),
                on=utcnow().date(),
            )
        except DomainError as error:
            flash(str(error.message), "error")
        else:
            flash(gettext("Ledger updated."), "success")
        return redirect(url_for("passes.pass_detail", pass_id=pass_id), 303)
    now = utcnow()
    fixed = pass_.plan.fixed_desk
    return render_template(
        "passes/pass_detail.html",
        pass_=pass_,
        now=now,
        remaining=services.remaining(db, pass_, now.date()),
        entries=services.ledger(db, pass_id),
        fixed_desk=queries.fixed_desk_of(db, pass_) if fixed else None,
        desks=fixed_desks.desks_to_assign(db, pass_) if fixed else [],
    )


@bp.post("/operator/passes/<int:pass_id>/fixed-desk")
@operator_required
def assign_fixed_desk(pass_id: int):
    """Assign, move or (empty choice) release a member's fixed desk."""
    resource_id = request.form.get("resource_id", type=int)
    try:
        desk = fixed_desks.assign_fixed_desk(
            get_db(), current_user, pass_id, resource_id
        )
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(str(error.message), "error")
    else:
        if desk is None:
            flash(gettext("Fixed desk released."), "success")
        else:
            message = gettext("%(desk)s is now this member's desk.", desk=desk.name)
            flash(message, "success")
    return redirect(url_for("passes.pass_detail", pass_id=pass_id), 303)


@bp.get("/operator/settlement")
@operator_required
def settlement():
    """Moved: the settlement with euro amounts is billing's (per month)."""
    month = (request.args.get("from") or "")[:7]
    return redirect(url_for("billing.settlement", month=month or None), 301)


# --- company accounts -----------------------------------------------------------


def _person(db, email: str | None, field: str) -> User:
    try:
        return db.get(User, holder_for_email(db, email or ""))
    except InvalidInput as error:
        raise InvalidInput(error.message, field=field) from None


@bp.route("/operator/companies", methods=["GET", "POST"])
@operator_required
def companies():
    db = get_db()
    if request.method == "POST":
        try:
            company = services.create_company(
                db,
                current_user,
                name=request.form.get("name", ""),
                admin_email=request.form.get("admin_email", ""),
                admin_name=request.form.get("admin_name", ""),
                setup_url=lambda token: public_url_for("auth.welcome", token=token),
                network_name=get_network(db).name,
                billing_email=request.form.get("billing_email", ""),
                location_id=request.form.get("location_id", type=int),
            )
            if request.form.get("plan_id"):
                services.set_company_budget(
                    db,
                    current_user,
                    company.id,
                    plan_id=parse_id(request.form["plan_id"], "plan_id"),
                    days=_budget_days(request.form.get("days")),
                    today=utcnow().date(),
                )
        except DomainError as error:
            db.rollback()
            flash(str(error.message), "error")
            return redirect(url_for("passes.companies"), 303)
        flash(gettext("Company account created."), "success")
        return redirect(url_for("passes.company", company_id=company.id), 303)
    return render_template(
        "passes/companies.html",
        companies=services.companies_for(db, current_user),
        locations=_my_locations(db),
        plans=_company_plans(db),
    )


def _company_plans(db):
    mine = managed_location_ids(db, current_user)
    return [
        p
        for p in services.plans_for_sale(db)
        if p.kind == "company"
        and (p.location_id is None or mine is None or p.location_id in mine)
    ]


def _budget_days(value: str | None) -> int | None:
    if not (value or "").strip():
        return None
    return parse_int(value, "days", low=1, high=1000)


@bp.post("/companies/<int:company_id>/budget")
@operator_required
def company_budget(company_id: int):
    db = get_db()
    try:
        services.set_company_budget(
            db,
            current_user,
            company_id,
            plan_id=parse_id(request.form.get("plan_id", ""), "plan_id"),
            days=_budget_days(request.form.get("days")),
            today=utcnow().date(),
        )
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
    else:
        flash(
            gettext("Budget saved: it applies at once and is invoiced monthly."),
            "success",
        )
    return redirect(url_for("passes.company", company_id=company_id), 303)


@bp.route("/companies/<int:company_id>", methods=["GET", "POST"])
@login_required
def company(company_id: int):
    db = get_db()
    company = services.get_company_for(db, current_user, company_id)
    if request.method == "POST":
        try:
            if request.form.get("withdraw_invitation_id"):
                invitations.withdraw_invitation(
                    db,
                    current_user,
                    parse_id(
                        request.form["withdraw_invitation_id"], "withdraw_invitation_id"
                    ),
                )
                flash(gettext("Invitation withdrawn."), "success")
            elif request.form.get("invite_email") is not None:
                invitation, _token = invitations.invite_employee(
                    db, current_user, company_id, request.form["invite_email"]
                )
                flash(
                    gettext("Invitation sent to %(email)s.", email=invitation.email),
                    "success",
                )
            elif request.form.get("remove_user_id"):
                services.remove_employee(
                    db,
                    current_user,
                    company_id,
                    parse_id(request.form["remove_user_id"], "remove_user_id"),
                )
                flash(gettext("Employee removed."), "success")
            else:
                employee = _person(db, request.form.get("email"), "email")
                services.add_employee(db, current_user, company_id, employee)
                flash(gettext("Employee added."), "success")
        except DomainError as error:
            flash(str(error.message), "error")
        return redirect(url_for("passes.company", company_id=company_id), 303)
    now = utcnow()
    try:
        month = date.fromisoformat((request.args.get("month") or "") + "-01")
    except ValueError:
        month = now.date().replace(day=1)
    period = month.strftime("%Y-%m")
    return render_template(
        "passes/company.html",
        company=company,
        employees=services.employees(db, company_id),
        usage=services.company_usage(db, company_id, period),
        budgets=services.company_passes(db, company_id, month),
        period=period,
        now=now,
        is_admin=company.admin_user_id == current_user.id,
        plans=[p for p in services.plans_for_sale(db) if p.kind == "company"],
        invitations=invitations.pending_invitations(db, company_id, now),
        can_set_budget=services.can_manage_company(db, current_user, company),
        operator_plans=_company_plans(db) if current_user.is_operator else [],
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """The link of an invitation mail: who invites, then accept."""
    db = get_db()
    try:
        invitation = invitations.invitation_for_token(db, token)
    except invitations.InvitationGone as error:
        return render_template("passes/invitation.html", gone=error.message), 410
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path), 303)
    if request.method == "POST":
        try:
            company = invitations.accept_invitation(db, current_user, token)
        except invitations.InvitationGone as error:
            return render_template("passes/invitation.html", gone=error.message), 410
        except DomainError as error:
            if error.status == 404:
                raise
            flash(str(error.message), "error")
            return redirect(url_for("passes.invitation", token=token), 303)
        flash(
            gettext(
                "You now book on the account of %(company)s.", company=company.name
            ),
            "success",
        )
        return redirect(url_for("passes.plans"), 303)
    return render_template("passes/invitation.html", invitation=invitation)
