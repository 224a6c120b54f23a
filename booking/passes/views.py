"""Plans for sale, the member's passes, company accounts, operator tools."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from ..billing import services as billing_services
from ..bookings.services import holder_for_email
from ..db import get_db, utcnow
from ..errors import DomainError, NotFound
from ..security import operator_required
from . import services
from .models import Company, Pass

bp = Blueprint("passes", __name__)


@bp.get("/plans")
def plans():
    db = get_db()
    now = utcnow()
    mine = (
        services.credit_summary(db, current_user, None, now.date(), now)
        if current_user.is_authenticated
        else []
    )
    return render_template(
        "passes/plans.html", plans=services.plans_for_sale(db), mine=mine
    )


@bp.post("/plans/<int:plan_id>/buy")
@login_required
def buy(plan_id: int):
    db = get_db()
    company_id = request.form.get("company_id", type=int)
    try:
        order = billing_services.buy_plan(
            db, current_user, plan_id, company_id=company_id
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return redirect(url_for("passes.plans"), 303)
    return redirect(url_for("billing.order", order_id=order.id), 303)


# --- operator ---------------------------------------------------------------


@bp.route("/operator/plans", methods=["GET", "POST"])
@operator_required
def operator_plans():
    db = get_db()
    if request.method == "POST":
        try:
            services.create_plan(db, current_user, request.form.to_dict())
        except DomainError as error:
            flash(str(error.message), "error")
        else:
            flash(gettext("Plan created."), "success")
        return redirect(url_for("passes.operator_plans"), 303)
    return render_template(
        "passes/operator_plans.html", plans=services.plans_for_sale(db)
    )


@bp.post("/operator/resources/<int:resource_id>/prices")
@operator_required
def resource_prices(resource_id: int):
    try:
        services.set_resource_prices(
            get_db(), current_user, resource_id, request.form.to_dict()
        )
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
    else:
        flash(gettext("Prices saved."), "success")
    return redirect(request.form.get("back") or url_for("passes.operator_plans"), 303)


@bp.get("/operator/members")
@operator_required
def members():
    db = get_db()
    now = utcnow()
    return render_template(
        "passes/members.html", passes=services.list_passes(db), now=now
    )


@bp.route("/operator/passes/<int:pass_id>", methods=["GET", "POST"])
@operator_required
def pass_detail(pass_id: int):
    db = get_db()
    pass_ = db.get(Pass, pass_id)
    if pass_ is None:
        raise NotFound()
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
    return render_template(
        "passes/pass_detail.html",
        pass_=pass_,
        now=now,
        remaining=services.remaining(db, pass_, now.date()),
        entries=services.ledger(db, pass_id),
    )


@bp.get("/operator/settlement")
@operator_required
def settlement():
    today = utcnow().date()
    try:
        starts_on = date.fromisoformat(request.args.get("from") or "")
        ends_on = date.fromisoformat(request.args.get("to") or "")
    except ValueError:
        starts_on, ends_on = today.replace(day=1), today
    rows = services.network_settlement(get_db(), starts_on, ends_on)
    return render_template(
        "passes/settlement.html", rows=rows, starts_on=starts_on, ends_on=ends_on
    )


# --- company accounts -----------------------------------------------------------


@bp.route("/companies/<int:company_id>", methods=["GET", "POST"])
@login_required
def company(company_id: int):
    db = get_db()
    company = db.get(Company, company_id)
    if company is None or (
        company.admin_user_id != current_user.id and not current_user.is_operator
    ):
        raise NotFound()
    if request.method == "POST":
        try:
            if request.form.get("remove_user_id"):
                services.remove_employee(
                    db, current_user, company_id, int(request.form["remove_user_id"])
                )
            else:
                employee = db.get(
                    type(current_user), holder_for_email(db, request.form.get("email"))
                )
                services.add_employee(db, current_user, company_id, employee)
        except DomainError as error:
            flash(str(error.message), "error")
        return redirect(url_for("passes.company", company_id=company_id), 303)
    period = utcnow().strftime("%Y-%m")
    return render_template(
        "passes/company.html",
        company=company,
        employees=services.employees(db, company_id),
        usage=services.company_usage(db, company_id, period),
        period=period,
        plans=[p for p in services.plans_for_sale(db) if p.kind == "company"],
    )
