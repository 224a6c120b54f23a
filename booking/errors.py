"""Domain errors carry a user-facing message and an HTTP status."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400
    code = "error"
    default_message = _l("The request could not be processed.")

    def __init__(self, message=None, *, field: str | None = None, **details):
        self.message = message if message is not None else self.default_message
        self.field = field
        self.details = details
        # The message may be a lazy translation: render it only when shown.
        super().__init__(self.message)


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"
    default_message = _l("The input is not valid.")


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_message = _l("Please log in.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = _l("You are not allowed to do that.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _l("Not found.")


class BookingConflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _l("This is already booked for that time.")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = _l("Too many attempts. Please wait a moment and try again.")

    def __init__(self, message=None, *, retry_after_s: int | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message, details: dict | None = None):
    if wants_json():
        body = {"error": code, "message": str(message)}
        if details:
            body.update(details)
        return jsonify(body), status
    template = (
        f"errors/{status}.html" if status in (403, 404, 429) else "errors/generic.html"
    )
    return render_template(template, status=status, message=message), status


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

# Werkzeug's and Flask-WTF's descriptions are English only; these are translated.
_HTTP_MESSAGES = {
    400: _l("The request could not be processed."),
    401: _l("Please log in."),
    403: _l("You are not allowed to do that."),
    404: _l("Not found."),
    405: _l("This action is not possible here."),
    413: _l("The request is too large."),
    415: _l("Send the request body as application/json."),
}
_CSRF_MESSAGE = _l("The form has expired. Please reload the page and try again.")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        details = {"field": error.field} if error.field else {}
        details.update(error.details)
        response = make_response(
            error_response(error.status, error.code, error.message, details)
        )
        if getattr(error, "retry_after_s", None):
            response.headers["Retry-After"] = str(error.retry_after_s)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = _HTTP_CODES.get(error.code or 500, "error")
        if error.code == 429:
            from flask_babel import gettext

            return error_response(
                429, code, gettext("Too many attempts. Please wait and try again.")
            )
        message = error.description
        if isinstance(error, CSRFError):
            message = _CSRF_MESSAGE
        elif error.description == type(error).description:
            message = _HTTP_MESSAGES.get(error.code or 500, message)
        response = make_response(error_response(error.code or 500, code, message))
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # RFC 9110: a 405 says which methods the resource allows.
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        from .db import get_db

        get_db().rollback()
        return error_response(
            500,
            "internal_error",
            _l("Something went wrong on our side. Please try again later."),
        )
