"""Composing a mail in its recipient's language, and one guarded send.

``compose_mail`` renders ``emails/<kind>.txt|.html``; ``attempt_send`` runs
one send and turns any failure into the reason stored with the mail's claim,
so one mail that cannot be composed or sent never stops the others. Used by
the delivery and the queued mails (notifications.services).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import object_session

from ..auth.models import User
from ..bookings.models import Booking
from ..bookings.queries import closures_that_cancelled
from ..calendars import ical
from ..db import get_db
from ..i18n import localdate, locale_for
from ..mail import Attachment, send_mail
from ..spaces.models import Closure
from .models import NotificationKind

log = logging.getLogger(__name__)

SUBJECTS = {
    NotificationKind.BOOKING_CONFIRMED: _l("Booked: %(what)s on %(day)s"),
    NotificationKind.BOOKING_CANCELLED: _l("Cancelled: %(what)s on %(day)s"),
    NotificationKind.REMINDER: _l("Tomorrow: %(what)s"),
    NotificationKind.WAITLIST: _l("A desk is free at %(location)s on %(day)s"),
    NotificationKind.PAYMENT_FAILED: _l("Your payment did not go through"),
    NotificationKind.MEMBERSHIP_RENEWING: _l("Your membership renews on %(day)s"),
    NotificationKind.PAYMENT_DUE: _l("Reminder: payment due since %(day)s"),
    NotificationKind.INVOICE_ISSUED: _l("Your invoice %(number)s from %(issuer)s"),
}


def send_composed(
    user: User | GuestRecipient,
    kind: NotificationKind,
    compose: Callable[[], tuple[dict, list[Attachment] | None]],
) -> str | None:
    """Compose and send one booking mail; None when it went out, else why not."""
    return attempt_send(
        f"{kind} mail to user {user.id}",
        lambda: send_mail(user.email, *compose_mail(user, kind, compose)),
    )


def compose_mail(
    user: User | GuestRecipient,
    kind: NotificationKind,
    compose: Callable[[], tuple[dict, list[Attachment] | None]],
) -> tuple[str, str, str, list[Attachment] | None]:
    """Subject, text, HTML and attachments of ``emails/<kind>.txt|.html`` in
    the user's language."""
    with force_locale(locale_for(user)):
        context, attachments = compose()
        subject = str(SUBJECTS[kind] % context.get("subject_args", {}))
        values = {
            "user": user,
            "public_url": current_app.config["PUBLIC_URL"],
            **context,
        }
        # Straight from the Jinja environment: render_template would run
        # every context processor of the web pages (the network settings
        # query, door helpers) for each part of each mail.
        env = current_app.jinja_env
        text = env.get_template(f"emails/{kind}.txt").render(values)
        html = env.get_template(f"emails/{kind}.html").render(values)
    return subject, text, html, attachments


def attempt_send(what: str, send: Callable[[], None]) -> str | None:
    """Run one send; None when it went out, else why not.

    Any failure is caught and logged: one mail that cannot be composed or sent
    (a broken template, a header the mail library refuses, a server that is
    down) never stops the mails after it.
    """
    try:
        send()
    except (OSError, smtplib.SMTPException) as error:
        log.warning("could not send %s: %r", what, error)
        return f"{type(error).__name__}: {error}"[:200]
    except Exception as error:
        log.exception("could not compose or send %s", what)
        return f"{type(error).__name__}: {error}"[:200]
    return None


@dataclass(frozen=True)
class GuestRecipient:
    """A guest without an account, written to like a user (``send_composed``): in the
    language of the member who booked for them, with that member's id in
    logs and claims."""

    id: int
    name: str
    email: str
    locale: str | None
    is_active: bool = True


def recipient_of(booking: Booking) -> User | GuestRecipient:
    """Who a booking's mails go to: its holder, or the guest it is for."""
    if booking.guest_email:
        return GuestRecipient(
            booking.user_id,
            booking.guest_name or "",
            booking.guest_email,
            booking.user.locale,
        )
    return booking.user


def booking_context(booking: Booking) -> dict:
    location = booking.location
    return {
        "booking": booking,
        "location": location,
        "resource": booking.resource,
        "closure": closure_that_cancelled(booking),
        "tz": location.timezone,
        "subject_args": {
            "what": f"{booking.resource.name} · {location.name}",
            "day": localdate(booking.booked_on, fmt="medium"),
            "location": location.name,
        },
    }


def closure_that_cancelled(booking: Booking) -> Closure | None:
    """The closure that cancelled this booking, for the cancellation mail to
    say so and why (bookings.queries.closures_that_cancelled)."""
    db = object_session(booking) or get_db()
    return closures_that_cancelled(db, [booking]).get(booking.id)


def booking_mail(
    booking: Booking, kind: NotificationKind
) -> tuple[dict, list[Attachment]]:
    method, body = ical.invitation(booking, organizer=current_app.config["MAIL_FROM"])
    attachment = Attachment(
        filename="booking.ics" if method == "REQUEST" else "cancellation.ics",
        data=body,
        mimetype="text/calendar",
        params={"method": method, "charset": "utf-8"},
    )
    # In the holder's language: send_composed calls this under force_locale.
    return booking_context(booking), [attachment]
