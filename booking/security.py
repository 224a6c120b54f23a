"""Who is asking: session and bearer-token logins, CSRF, role checks."""

from __future__ import annotations

import io
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError

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
        _protect_api_call()
        if request.content_length and not request.is_json:
            raise InvalidInput(_l("Send the request body as application/json."))
        return
    if request.endpoint in _CSRF_EXEMPT_ENDPOINTS:
        return
    csrf.protect()


def _protect_api_call() -> None:
    """Cookie-authenticated API calls need proof that our own page sent them.

    A cross-site page can make the browser send the cookie with a form or a
    "simple" fetch whatever the body (even none), so neither the body nor its
    content type proves anything. A bearer token is no ambient credential:
    such calls (any Authorization header: the cookie is then not used) pass.
    """
    if request.headers.get("Authorization") or not session.get(SESSION_KEY):
        return
    # Fetch metadata and Origin, which scripts cannot forge in a browser.
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if (site is not None and site not in ("same-origin", "none")) or (
        origin is not None and origin not in _own_origins()
    ):
        raise Forbidden(_l("Cross-site requests are not allowed."))
    # A custom header cannot be sent cross-site without a CORS preflight, which
    # we never allow; its value is the CSRF token of our pages.
    token = next(
        (request.headers[name] for name in _CSRF_HEADERS if name in request.headers),
        None,
    )
    try:
        validate_csrf(token)
    except ValidationError:
        raise Forbidden(
            _l("Send the X-CSRF-Token header with the token of the page.")
        ) from None


_CSRF_HEADERS = ("X-CSRF-Token", "X-CSRFToken")


def _own_origins() -> set[str]:
    public = urlsplit(current_app.config["PUBLIC_URL"])
    return {f"{public.scheme}://{public.netloc}", request.host_url.rstrip("/")}


_CSRF_EXEMPT_ENDPOINTS: set[str] = set()


def csrf_exempt_endpoint(endpoint: str) -> None:
    """For machine callers that prove themselves otherwise (signed webhooks)."""
    _CSRF_EXEMPT_ENDPOINTS.add(endpoint)


class ChunkedBodyLimit:
    """WSGI middleware: a chunked request body (no Content-Length) is read up
    to MAX_CONTENT_LENGTH and handed on with its length, or refused with 413.

    Werkzeug stops reading such a body at the limit but gives the view the
    first megabyte as if it were all (a webhook then fails its signature, a
    form loses fields); with a length, every view sees one kind of body.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if limit is not None and chunked and not environ.get("CONTENT_LENGTH"):
            body = _read_at_most(environ["wsgi.input"], limit + 1)
            if len(body) > limit:
                environ["landdesk.body_too_large"] = True
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.wsgi_app(environ, start_response)


def _read_at_most(stream, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, 64 * 1024))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _check_request() -> None:
    """The one before_request hook of this module: a chunked body over the
    limit, then CSRF (``_protect_forms``)."""
    if request.environ.get("landdesk.body_too_large"):
        raise RequestEntityTooLarge()
    _protect_forms()


def init_app(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    hooks = list(app.before_request_funcs.get(None, ()))
    csrf.init_app(app)
    # With WTF_CSRF_CHECK_DEFAULT off, Flask-WTF's own before_request hook
    # returns at once on every request; _protect_forms calls csrf.protect()
    # wherever a form needs it. Its hook is taken out again.
    app.before_request_funcs[None] = hooks
    login_manager.init_app(app)
    login_manager.session_protection = None  # logins are server-side rows
    login_manager.request_loader(_load_user_from_request)
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_check_request)


def local_path(target: str | None, default: str) -> str:
    """``target`` if it is a path of this site, else ``default``: a "next" or
    "back" value from a link or form never sends anyone elsewhere."""
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
    return default


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
