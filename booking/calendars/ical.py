"""iCalendar (RFC 5545) output: feeds and single-booking invitations.

Times are written in UTC ("Z"): every client converts them to the reader's
zone, so a booking on a daylight-saving change day shows the right local
time without relying on each client's VTIMEZONE handling (some parsers
mis-read the RDATE-style zones that generators emit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

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


# A small RFC 5545 writer: our feeds and invitations use a fixed handful of
# properties, and writing them directly costs a twentieth of building
# icalendar objects (a confirmation mail carries one; see bench/README.md).
# Parsing imported calendars stays with icalendar. Tests read every output
# with two independent parsers (icalendar and vobject).


def _text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _param(value: str) -> str:
    """A parameter value, quoted when it holds : ; or , (DQUOTE cannot occur)."""
    value = value.replace('"', "")
    return f'"{value}"' if any(c in value for c in ":;,") else value


def _decimal(value: float) -> str:
    """A FLOAT value: plain decimals (never 1e-05), no trailing zeros."""
    return f"{float(value):.6f}".rstrip("0").rstrip(".")


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> bytes:
    """One content line, folded into lines of at most 75 octets."""
    data = line.encode()
    if len(data) <= 75:
        return data + b"\r\n"
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        # Never split a UTF-8 sequence: back up to the start of a character.
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end])
        start, limit = end, 74  # continuation lines start with a space
    return b"\r\n ".join(parts) + b"\r\n"


def _calendar_lines(name: str | None = None, method: str | None = None) -> list[str]:
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{_text(PRODID)}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    if method:
        lines.append(f"METHOD:{method}")
    if name:
        lines.append(f"X-WR-CALNAME:{_text(name)}")
    return lines


def _event_lines(
    booking: Booking, *, summary: str, stamp: datetime, with_details: bool
) -> list[str]:
    location = booking.location
    cancelled = not BookingStatus(booking.status).is_active
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_text(booking_uid(booking))}",
        f"DTSTAMP:{_instant(stamp)}",
        f"DTSTART:{_instant(booking.starts_at)}",
        f"DTEND:{_instant(booking.ends_at)}",
        f"SEQUENCE:{int(booking.sequence)}",
        f"SUMMARY:{_text(summary)}",
        f"LOCATION:{_text(f'{location.name}, {location.address}')}",
        f"GEO:{_decimal(location.lat)};{_decimal(location.lon)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"TRANSP:{'TRANSPARENT' if cancelled else 'OPAQUE'}",
        f"URL:{current_app.config['PUBLIC_URL']}/bookings",
    ]
    if with_details:
        parts = [f"{location.name}\n{location.address}"]
        for hook in DESCRIPTION_HOOKS:
            extra = hook(booking)
            if extra:
                parts.append(extra)
        lines.append("DESCRIPTION:" + _text("\n\n".join(parts)))
    return lines


def _serialise(lines: list[str]) -> bytes:
    return b"".join(_fold(line) for line in lines)


def member_feed(bookings: Iterable[Booking], *, name: str) -> bytes:
    """A member's own bookings, cancelled ones included so clients drop them."""
    lines = _calendar_lines(name)
    stamp = utcnow()
    for booking in bookings:
        summary = f"{booking.resource.name} · {booking.location.name}"
        lines += _event_lines(booking, summary=summary, stamp=stamp, with_details=True)
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return _serialise(lines)


def location_feed(bookings: Iterable[Booking], *, name: str) -> bytes:
    """An operator's view of one location: who has what, no door PINs."""
    lines = _calendar_lines(name)
    stamp = utcnow()
    for booking in bookings:
        holder = booking.user.name or booking.user.email
        if booking.guest_name:
            holder = f"{booking.guest_name} ({holder})"
        summary = f"{booking.resource.name}: {holder}"
        lines += _event_lines(booking, summary=summary, stamp=stamp, with_details=False)
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return _serialise(lines)


def invitation(booking: Booking, *, organizer: str) -> tuple[str, bytes]:
    """METHOD and body of the .ics attached to a confirmation or cancellation.

    A live booking is a REQUEST, a cancelled one a CANCEL with the same UID
    and a higher SEQUENCE (RFC 5546), so the calendar updates the entry.
    """
    method = "REQUEST" if booking.is_active else "CANCEL"
    lines = _calendar_lines(method=method)
    lines += _event_lines(
        booking,
        summary=f"{booking.resource.name} · {booking.location.name}",
        stamp=utcnow(),
        with_details=True,
    )
    name, address = parseaddr(organizer)
    # A guest's booking invites the guest (bookings.models.Booking.guest_email).
    holder = booking.user
    who, email = holder.name or holder.email, holder.email
    if booking.guest_email:
        who, email = booking.guest_name or booking.guest_email, booking.guest_email
    lines += [
        f"ORGANIZER;CN={_param(name or address)}:mailto:{address}",
        f"ATTENDEE;CN={_param(who)};PARTSTAT=ACCEPTED;"
        f"ROLE=REQ-PARTICIPANT:mailto:{email}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return method, _serialise(lines)
