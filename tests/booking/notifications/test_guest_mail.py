"""A guest gets the confirmation mail with the .ics and the door PIN."""

from __future__ import annotations

import re

from booking.bookings.services import (
    BookingRequest,
    Guest,
    cancel_booking,
    create_booking,
)
from tests.conftest import next_weekday


def test_the_guest_gets_the_mail_with_pin_and_calendar_entry(
    db, mailbox, create_user, create_location, create_resource
):
    from booking.access.services import create_door, doors_for_booking

    operator = create_user("op@example.org", role="operator")
    location = create_location(operator, name="Alte Schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    create_door(db, operator, location.id, {"name": "Haustür", "kind": "landdesk"})
    member = create_user("m@example.org", name="Mia Muster", locale="de")
    booking = create_booking(
        db,
        member,
        BookingRequest(
            desk.id, on=next_weekday(1), guest=Guest("Gisela Gast", "g@example.org")
        ),
    )
    mailbox.wait(1)
    assert mailbox.to("m@example.org") == []
    [mail] = mailbox.to("g@example.org")
    text = mail.get_body(("plain",)).get_content()
    assert text.startswith("Hallo Gisela Gast,")
    assert "Mia Muster hat das für Sie als Gast gebucht." in text
    [access] = doors_for_booking(db, member, booking)
    pin = f"{access.pin[:3]} {access.pin[3:5]} {access.pin[5:7]} {access.pin[7:]}"
    assert f"Tür-PIN für Haustür: {pin}" in text
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
    [ics] = [
        p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"
    ]
    assert b"mailto:g@example.org" in ics.get_payload(decode=True).replace(
        b"\r\n ", b""
    )

    cancel_booking(db, member, booking.id)
    mailbox.wait(2)
    assert len(mailbox.to("g@example.org")) == 2
