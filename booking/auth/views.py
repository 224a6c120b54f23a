from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user

from ..db import get_db
from ..errors import InvalidInput, RateLimited
from ..extensions import limiter
from ..i18n import LANG_COOKIE
from ..security import SESSION_KEY, admin_required, local_path, public_url_for
from ..spaces.services import list_locations
from ..validation import parse_id
from . import people, services, throttle
from .forms import ForgotForm, LoginForm, RegisterForm, ResetForm
from .models import SessionKind

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a login link cannot redirect elsewhere."""
    return local_path(target, url_for("network.index"))


def _begin_web_session(user) -> None:
    raw = services.start_session(
        get_db(), user, SessionKind.WEB, request.headers.get("User-Agent")
    )
    lang = session.get("lang")
    session.clear()  # no session fixation
    session[SESSION_KEY] = raw
    session.permanent = True
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email, address = form.email.data, request.remote_addr or ""
        wait = throttle.login_wait_s(email, address)
        if wait:
            raise RateLimited(retry_after_s=wait)
        user = services.authenticate(get_db(), email, form.password.data)
        if user is not None:
            throttle.record_login(email, address)
            _begin_web_session(user)
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failed_login(email, address)
        form.password.errors.append(gettext("E-mail address or password is wrong."))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    raw = session.get(SESSION_KEY)
    if raw:
        services.end_session(get_db(), raw)
    session.clear()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("network.index"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                get_db(),
                email=form.email.data,
                password=form.password.data,
                name=form.name.data,
                locale=str(request.cookies.get(LANG_COOKIE) or "") or None,
            )
        except InvalidInput as error:
            getattr(form, error.field or "email").errors.append(str(error.message))
            return render_template("auth/register.html", form=form), 400
        _begin_web_session(user)
        flash(
            gettext("Welcome, %(name)s! Your account is ready.", name=user.name),
            "success",
        )
        return redirect(_safe_next(request.args.get("next")))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10/hour", methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        try:
            services.request_password_reset(
                get_db(),
                form.email.data,
                lambda token: public_url_for("auth.reset_password", token=token),
            )
        except InvalidInput as error:
            form.email.errors.append(str(error.message))
            return render_template("auth/forgot.html", form=form), 400
        flash(
            gettext("If an account exists for this address, we have sent it a link."),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    form = ResetForm()
    if form.validate_on_submit():
        try:
            services.reset_password(get_db(), token, form.password.data)
        except InvalidInput as error:
            target = form.password if error.field == "password" else None
            if target is not None:
                target.errors.append(str(error.message))
            else:
                flash(str(error.message), "error")
            return render_template("auth/reset.html", form=form), 400
        flash(gettext("Your password is changed. Please log in."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


@bp.post("/language")
def set_language():
    lang = request.form.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        raise InvalidInput(gettext("Unknown language."), field="lang")
    if current_user.is_authenticated:
        services.set_locale(get_db(), current_user, lang)
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    response.set_cookie(
        LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
    )
    return response


# --- people and roles (network admins) ------------------------------------------


def _person_values() -> dict:
    return {
        "role": request.form.get("role", ""),
        "location_ids": [
            parse_id(value, "location_ids")
            for value in request.form.getlist("location_ids")
        ],
    }


def _people_page(email: str, *, invite=None, error=None, status: int = 200):
    db = get_db()
    return render_template(
        "auth/people.html",
        people=people.find_people(db, current_user, email) if email else [],
        email=email,
        locations=list_locations(db, include_inactive=True),
        invite=invite or {},
        error=error,
    ), status


@bp.get("/admin/people")
@admin_required
def people_page():
    return _people_page(request.args.get("email", "").strip()[:254])


@bp.post("/admin/people/invite")
@admin_required
def invite_person():
    values = _person_values()
    try:
        person, created = people.invite_person(
            get_db(),
            current_user,
            email=request.form.get("email", ""),
            name=request.form.get("name", ""),
            role=values["role"] or "operator",
            location_ids=values["location_ids"],
            setup_url=lambda token: public_url_for("auth.welcome", token=token),
        )
    except InvalidInput as error:
        get_db().rollback()
        return _people_page("", invite=request.form, error=error, status=400)
    if created:
        flash(
            gettext(
                "Invitation sent to %(email)s: they set their password from the "
                "link in the mail.",
                email=person.user.email,
            ),
            "success",
        )
    else:
        flash(
            gettext(
                "%(email)s has an account already: its role and locations are changed.",
                email=person.user.email,
            ),
            "success",
        )
    return redirect(url_for("auth.person_page", user_id=person.user.id), 303)


@bp.get("/admin/people/<int:user_id>")
@admin_required
def person_page(user_id: int):
    db = get_db()
    return render_template(
        "auth/person.html",
        person=people.get_person(db, current_user, user_id),
        locations=list_locations(db, include_inactive=True),
    )


@bp.post("/admin/people/<int:user_id>")
@admin_required
def change_person(user_id: int):
    values = _person_values()
    try:
        people.change_person(
            get_db(),
            current_user,
            user_id,
            role=values["role"] or None,
            is_active=request.form.get("is_active") == "1",
            location_ids=values["location_ids"],
        )
    except InvalidInput as error:
        get_db().rollback()
        flash(str(error.message), "error")
    else:
        if values["role"] == "operator" and not values["location_ids"]:
            # Saved, but not done: an operator of nothing can run nothing.
            flash(gettext("Saved, but this operator runs no location yet."), "warning")
        else:
            flash(gettext("Saved."), "success")
    return redirect(url_for("auth.person_page", user_id=user_id), 303)


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str):
    """An invited person chooses their password (the link in the mail)."""
    form = ResetForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(
                get_db(), token, form.password.data, purpose="invitation"
            )
        except InvalidInput as error:
            if error.field == "password":
                form.password.errors.append(str(error.message))
            else:
                flash(str(error.message), "error")
            return render_template("auth/reset.html", form=form, welcome=True), 400
        _begin_web_session(user)
        flash(
            gettext("Welcome, %(name)s! Your account is ready.", name=user.name),
            "success",
        )
        return redirect(url_for("network.index"), 303)
    return render_template("auth/reset.html", form=form, welcome=True)
