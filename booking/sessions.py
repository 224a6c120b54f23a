"""The cookie session, left alone by bearer-token calls of the JSON API.

A call with ``Authorization: Bearer`` under ``/api/`` is authenticated by its
token (``security._load_user_from_request``), so the signed cookie session is
neither read nor verified nor written for it: it gets an empty session that
lives as long as the request. Every other request has Flask's own.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


def _is_bearer_api_call() -> bool:
    return (
        request.path.startswith("/api/")
        and request.headers.get("Authorization", "")[:7].lower() == "bearer "
    )


class CookieSessions(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if _is_bearer_api_call():
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if _is_bearer_api_call():
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
