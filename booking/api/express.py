"""The express lane of ``POST /api/v1/bookings``, in front of Flask.

A member's token booking of a free desk is the commonest write of the
service, and on two cores its CPU bounds the throughput. Once the booking
itself went without the ORM (``bookings.express``), Flask's work around it
(request context, session, before-request hooks, response object) was
almost half of the app's CPU per booking (bench/README.md). This WSGI
layer answers exactly that case, a JSON object in the body and a bearer
token, by calling ``bookings.express.book`` and writing the 201 itself.
Everything else, and every case the express path steps aside from, goes
on to the Flask app untouched (with the body it read handed on), whose
view gives the answer it always gave: the lane only ever answers 201.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from ..bookings import express as booking_express
from ..db import get_database
from . import serialize
from .contract import to_json
from .schemas import BookingInput

log = logging.getLogger(__name__)

PATH = "/api/v1/bookings"
# A booking body is a few dozen bytes; anything larger is not this case.
_MAX_BODY = 4096


class ExpressBookings:
    """WSGI middleware: ``app.wsgi_app = ExpressBookings(app, app.wsgi_app)``."""

    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == PATH:
            answered = self._book(environ, start_response)
            if answered is not None:
                return answered
        return self.wsgi_app(environ, start_response)

    def _book(self, environ: dict, start_response: Callable) -> list[bytes] | None:
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
            return None  # the API's own check words the refusal
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= _MAX_BODY:
            return None
        body = environ["wsgi.input"].read(length)
        # Flask reads the body again if the request goes on.
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or not booking_express.is_available(data):
            return None
        if not data.keys() <= BookingInput.model_fields.keys():
            return None  # the API refuses unknown fields
        with self.app.app_context():
            try:
                booked = booking_express.book(get_database(), token, data)
            except SQLAlchemyError:
                # A deadlock with another path, a lost connection: nothing
                # was committed, and the general path answers (and reports)
                # what the database says.
                log.warning("express booking failed, handing on", exc_info=True)
                return None
            if booked is None:
                return None
            payload = to_json(serialize.booking_json(booked))
        start_response(
            "201 CREATED",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]
