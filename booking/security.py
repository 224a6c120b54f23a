"""Who is asking: session and bearer-token logins, CSRF, role checks."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .auth.models import SessionKind
from .auth.services import user_for_secret
from .db import get_db
from .errors import Forbidden, InvalidInput, Unauthorized, wants_json
from .extensions import csrf, login_manager

SESSION_KEY = "sid"


def _load_user_from_request(req):
    header = req.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        g.auth_method = "token"
        return user_for_secret(get_db(), token.strip(), SessionKind.API)
    raw = session.get(SESSION_KEY)
    if not raw:
        return None
    user = user_for_secret(get_db(), raw, SessionKind.WEB)
    if user is None:
        # Logged out elsewhere, expired or revoked: forget the dead login.
        session.pop(SESSION_KEY, None)
        return None
    g.auth_method = "session"
    return user


def _unauthorized():
    if wants_json():
        raise Unauthorized()
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _protect_forms() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    if request.path.startswith("/api/"):
        # Cross-site forms cannot send JSON without a CORS preflight (which we
        # never allow), so requiring JSON bodies protects cookie-authenticated
        # API calls; bearer-token calls carry no ambient credentials anyway.
        if request.content_length and not request.is_json:
            raise InvalidInput(_l("Send the request body as application/json."))
        return
    if request.endpoint in _CSRF_EXEMPT_ENDPOINTS:
        return
    csrf.protect()


_CSRF_EXEMPT_ENDPOINTS: set[str] = set()


def csrf_exempt_endpoint(endpoint: str) -> None:
    """For machine callers that prove themselves otherwise (signed webhooks)."""
    _CSRF_EXEMPT_ENDPOINTS.add(endpoint)


def init_app(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = None  # logins are server-side rows
    login_manager.request_loader(_load_user_from_request)
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_protect_forms)


def public_url(path: str) -> str:
    """The absolute address of a path of this site, for links that leave it
    (mails, feeds, Stripe return URLs). Built from PUBLIC_URL, never from the
    request: its Host header is whatever the client chose."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/" + path.lstrip("/")


def public_url_for(endpoint: str, **values) -> str:
    """url_for(endpoint, _external=True) on PUBLIC_URL instead of the request."""
    parts = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def role_required(check):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not check(current_user):
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorator


operator_required = role_required(lambda user: user.is_operator)
admin_required = role_required(lambda user: user.is_admin)
