from __future__ import annotations

from urllib.parse import urlsplit

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
from ..security import SESSION_KEY, public_url_for
from . import services, throttle
from .forms import ForgotForm, LoginForm, RegisterForm, ResetForm
from .models import SessionKind

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a login link cannot redirect elsewhere."""
    # No control characters (a CR/LF would end the Location header) and no
    # backslash (browsers read "/\\evil.example" as "//evil.example").
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and target.isprintable()
        and "\\" not in target
    ):
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme:
            return target
    return url_for("network.index")


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
