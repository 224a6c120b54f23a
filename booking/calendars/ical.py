"""iCalendar (RFC 5545) output: feeds and single-booking invitations.

Times are written in UTC ("Z"): every client converts them to the reader's
zone, so a booking on a daylight-saving change day shows the right local
time without relying on each client's VTIMEZONE handling (some parsers
mis-read the RDATE-style zones that generators emit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

import icalendar
from flask import current_app

from ..bookings.models import Booking, BookingStatus
from ..db import utcnow

PRODID = "-//Landdesk//Landdesk booking//EN"

# Other domains add lines to an event's description (the door PIN, say):
# ``fn(booking) -> str | None``. See docs/calendars.md.
DESCRIPTION_HOOKS: list[Callable[[Booking], str | None]] = []


def register_description_hook(fn: Callable[[Booking], str | None]) -> None:
    if fn not in DESCRIPTION_HOOKS:
        DESCRIPTION_HOOKS.append(fn)


def uid_host() -> str:
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "landdesk.invalid"


def booking_uid(booking: Booking) -> str:
    return f"booking-{booking.id}@{uid_host()}"


def _calendar(name: str | None = None, method: str | None = None) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    return cal


def _event(
    booking: Booking, *, summary: str, stamp: datetime, with_details: bool
) -> icalendar.Event:
    location = booking.location
    event = icalendar.Event()
    event.add("uid", booking_uid(booking))
    event.add("dtstamp", stamp)
    event.add("dtstart", booking.starts_at)
    event.add("dtend", booking.ends_at)
    event.add("sequence", booking.sequence)
    event.add("summary", summary)
    event.add("location", f"{location.name}, {location.address}")
    event.add("geo", (location.lat, location.lon))
    cancelled = not BookingStatus(booking.status).is_active
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add("url", f"{current_app.config['PUBLIC_URL']}/bookings")
    if with_details:
        lines = [f"{location.name}\n{location.address}"]
        for hook in DESCRIPTION_HOOKS:
            extra = hook(booking)
            if extra:
                lines.append(extra)
        event.add("description", "\n\n".join(lines))
    return event


def member_feed(bookings: Iterable[Booking], *, name: str) -> bytes:
    """A member's own bookings, cancelled ones included so clients drop them."""
    cal = _calendar(name)
    stamp = utcnow()
    for booking in bookings:
        summary = f"{booking.resource.name} · {booking.location.name}"
        cal.add_component(
            _event(booking, summary=summary, stamp=stamp, with_details=True)
        )
    return cal.to_ical()


def location_feed(bookings: Iterable[Booking], *, name: str) -> bytes:
    """An operator's view of one location: who has what, no door PINs."""
    cal = _calendar(name)
    stamp = utcnow()
    for booking in bookings:
        holder = booking.user.name or booking.user.email
        summary = f"{booking.resource.name}: {holder}"
        cal.add_component(
            _event(booking, summary=summary, stamp=stamp, with_details=False)
        )
    return cal.to_ical()


def invitation(booking: Booking, *, organizer: str) -> tuple[str, bytes]:
    """METHOD and body of the .ics attached to a confirmation or cancellation.

    A live booking is a REQUEST, a cancelled one a CANCEL with the same UID
    and a higher SEQUENCE (RFC 5546), so the calendar updates the entry.
    """
    method = "REQUEST" if booking.is_active else "CANCEL"
    cal = _calendar(method=method)
    event = _event(
        booking,
        summary=f"{booking.resource.name} · {booking.location.name}",
        stamp=utcnow(),
        with_details=True,
    )
    name, address = parseaddr(organizer)
    event.add("organizer", f"mailto:{address}", parameters={"CN": name or address})
    event.add(
        "attendee",
        f"mailto:{booking.user.email}",
        parameters={
            "CN": booking.user.name or booking.user.email,
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "ACCEPTED",
        },
    )
    cal.add_component(event)
    return method, cal.to_ical()
