"""The member's account page: calendar, e-mails, profile, data export, deletion."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user

from ..api import schemas
from ..api.contract import operation
from ..auth import services as auth_services
from ..calendars.services import personal_feed_url
from ..checkin.services import waitlists_of
from ..db import get_db, utcnow
from ..errors import DomainError, InvalidInput
from ..extensions import limiter
from ..insight.models import TargetGroup
from ..insight.services import get_profile, save_profile
from ..notifications.models import NotificationKind
from ..notifications.services import LABELS, opted_out, set_preferences
from ..security import SESSION_KEY, local_path
from . import services

bp = Blueprint("account", __name__, url_prefix="/account")
api_bp = Blueprint("account_api", __name__, url_prefix="/api/v1")


@bp.get("/")
@login_required
def index():
    db = get_db()
    return render_template(
        "account/index.html",
        calendar_url=personal_feed_url(db, current_user),
        kinds=list(NotificationKind),
        labels=LABELS,
        off=opted_out(db, current_user.id),
        profile=get_profile(db, current_user),
        target_groups=list(TargetGroup),
        waitlists=waitlists_of(db, current_user, today=utcnow().date()),
    )


@bp.post("/notifications")
@login_required
def notifications():
    set_preferences(get_db(), current_user, request.form.getlist("kind"))
    flash(gettext("Saved."), "success")
    return redirect(
        url_for("account.index", at="notifications") + "#notifications", 303
    )


@bp.post("/password")
@login_required
@limiter.limit("10/hour", methods=["POST"])
def change_password():
    """A new password, after the current one (throttled as the login is: it
    checks a password). Other logins end; this one stays."""
    form = request.form
    try:
        if form.get("new_password", "") != form.get("confirm", ""):
            raise InvalidInput(_l("The passwords differ."), field="confirm")
        auth_services.change_password(
            get_db(),
            current_user,
            form.get("current_password", ""),
            form.get("new_password", ""),
            keep=session.get(SESSION_KEY),
        )
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(
            gettext("Your password is changed; your other logins have ended."),
            "success",
        )
    return redirect(url_for("account.index", at="password") + "#password", 303)


@bp.post("/profile")
@login_required
def profile():
    try:
        save_profile(get_db(), current_user, request.form.to_dict())
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("Saved."), "success")
    return redirect(url_for("account.index", at="profile") + "#profile", 303)


@bp.post("/billing-address")
@login_required
def billing_address():
    text = request.form.get("billing_address", "")
    try:
        if request.form.get("needed") and not text.strip():
            # Asked for by an order page: empty would just ask again.
            raise InvalidInput(
                _l("Enter your billing address."), field="billing_address"
            )
        services.save_billing_address(get_db(), current_user, text)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("Saved."), "success")
    # From an order page that asked for it: back there, to pay.
    account = url_for("account.index", at="billing") + "#billing"
    return redirect(local_path(request.form.get("back"), account), 303)


@bp.get("/export.json")
@login_required
def export():
    data = services.export_user_data(get_db(), current_user)
    response = Response(
        json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    # TRANSLATORS: file name of the personal data download, no spaces.
    name = gettext("my-data")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response


@bp.post("/delete")
@login_required
def delete():
    try:
        services.delete_account(
            get_db(), current_user, request.form.get("password", "")
        )
    except DomainError as error:
        flash(str(error.message), "error")
        return redirect(url_for("account.index", at="delete") + "#delete", 303)
    logout_user()
    session.clear()
    flash(gettext("Your account is deleted."), "success")
    return redirect(url_for("network.index"), 303)


# --- JSON API --------------------------------------------------------------


def _preferences_json() -> dict:
    off = opted_out(get_db(), current_user.id)
    return {str(kind): kind not in off for kind in NotificationKind}


@api_bp.get("/me/notifications")
@login_required
@operation(
    "Which e-mails you get",
    answers={200: schemas.NotificationChoices},
)
def api_notifications():
    return schemas.NotificationChoices(**_preferences_json())


@api_bp.put("/me/notifications")
@login_required
@operation(
    'Choose your e-mails: {"<kind>": true|false, ...}',
    body=schemas.NotificationChoice,
    answers={200: schemas.NotificationChoices},
)
def api_set_notifications(body: schemas.NotificationChoice):
    current = _preferences_json() | body.values()
    set_preferences(get_db(), current_user, [k for k, v in current.items() if v])
    return schemas.NotificationChoices(**_preferences_json())


@api_bp.get("/me/export")
@login_required
@operation(
    "Everything the service holds about you (GDPR art. 15/20)",
    answers={200: dict},
)
def api_export():
    return services.export_user_data(get_db(), current_user)


@api_bp.delete("/me")
@login_required
@operation(
    'Delete your account ({"password": ...}): bookings are anonymised, invoices kept',
    body=schemas.AccountDeletion,
    answers={
        204: (None, "Deleted"),
        403: "Wrong password",
        409: "A booking or payment must be settled first",
    },
)
def api_delete(body: schemas.AccountDeletion):
    if not body.password:
        raise InvalidInput(gettext("Give your password."), field="password")
    services.delete_account(get_db(), current_user, body.password)


@api_bp.get("/locations/<int:location_id>/members")
@login_required
@operation(
    "A member's data as far as it concerns a location you run: bookings, door "
    "events and orders there (nothing from other locations)",
    query=schemas.MemberQuery,
    answers={200: dict, 403: "Not one of your locations"},
)
def api_member(location_id: int, query: schemas.MemberQuery):
    return services.member_at_location(get_db(), current_user, location_id, query.email)
