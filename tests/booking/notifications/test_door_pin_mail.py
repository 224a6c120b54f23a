"""The confirmation mail carries the door PIN next to the .ics (issue 17.5)."""

from __future__ import annotations

import re

from booking.bookings.services import BookingRequest, create_booking
from tests.conftest import next_weekday


def test_confirmation_mail_carries_the_door_pin(
    db, mailbox, create_user, create_location, create_resource
):
    from booking.access.services import create_door, doors_for_booking

    operator = create_user("op@example.org", role="operator")
    location = create_location(operator, name="Alte Schule")
    desk = create_resource(location, "desk", "Fensterplatz")
    create_door(db, operator, location.id, {"name": "Haustür", "kind": "landdesk"})
    member = create_user("m@example.org", locale="de")
    booking = create_booking(db, member, BookingRequest(desk.id, on=next_weekday(1)))
    mailbox.wait(1)
    [mail] = mailbox.to("m@example.org")
    text = mail.get_body(("plain",)).get_content()
    [access] = doors_for_booking(db, member, booking)
    pin = f"{access.pin[:3]} {access.pin[3:5]} {access.pin[5:7]} {access.pin[7:]}"
    assert f"\nTür-PIN für Haustür: {pin} (gültig " in text
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
    html = mail.get_body(("html",)).get_content()
    assert pin in html
    [ics] = [
        p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"
    ]
    assert b"BEGIN:VEVENT" in ics.get_payload(decode=True)
