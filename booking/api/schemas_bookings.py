"""Schemas of guests and series bookings (POST /api/v1/bookings)."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l

from .contract import Answer, Schema


class GuestInput(Schema):
    """Someone without an account: gets the mails and the door PIN; the
    booking counts against the booker's plan or price."""

    messages = {
        "name": _l("Give the guest's name (at most 120 characters)."),
        "email": _l("Give the guest's e-mail address."),
    }
    name: str
    email: str


class GuestAnswer(Answer):
    name: str
    email: str


class Refusal(Answer):
    """A day of a series that was not booked, and why (an error code and
    message as in error answers)."""

    date: date
    error: str
    message: str
