"""The cookie session, left alone by bearer-token calls of the JSON API.

A call with ``Authorization: Bearer`` under ``/api/`` is authenticated by its
token (``security._load_user_from_request``), so the signed cookie session is
neither read nor verified nor written for it: it gets an empty session that
lives as long as the request. Every other request has Flask's own, with two
short cuts that change nothing it does: a request without any cookie gets an
empty session without building the signing serializer, and an empty session
nobody changed is not saved (Flask would return there too, after working out
the cookie's settings); the serializer is built once per key.
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
    def __init__(self) -> None:
        self._serializers: dict = {}

    def get_signing_serializer(self, app):
        key = (
            id(app),
            app.secret_key,
            tuple(app.config["SECRET_KEY_FALLBACKS"] or ()),
        )
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            self._serializers = {key: serializer}  # the current key only
        return serializer

    def open_session(self, app, request):
        if _is_bearer_api_call():
            return self.session_class()
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if _is_bearer_api_call():
            return
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
