"""What the access log's codes say to a person: channels, results, door
events and reasons in the reader's language (pages and CSV exports).

Unknown codes (a newer controller's event) are shown as they are.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CHANNELS = {
    "app": _l("App"),
    "operator": _l("Operator"),
    "remote": _l("Opened remotely"),
    "pin": _l("PIN at the door"),
    "device": _l("Door module"),
}

RESULTS = {
    "opened": _l("opened"),
    "denied": _l("no access"),
    "refused": _l("door refused"),
    "timeout": _l("no answer from the door"),
    "unavailable": _l("door not reachable"),
    "rate_limited": _l("too many attempts"),
    "pin_accepted": _l("PIN accepted"),
    "pin_refused": _l("PIN wrong"),
    "pin_locked_out": _l("keypad locked after wrong PINs"),
    "event": _l("report of the door"),
}

EVENTS = {
    "opened": _l("door opened"),
    "closed": _l("door closed"),
    "pin_accepted": _l("PIN accepted"),
    "pin_refused": _l("PIN wrong"),
    "pin_locked_out": _l("keypad locked after wrong PINs"),
    "unlock_refused": _l("door refused to open"),
    "tamper": _l("tampering reported"),
    "held_open": _l("door held open"),
    "online": _l("connected"),
    "offline": _l("connection lost"),
}

REASONS = {
    "operator": _l("operator"),
    "booking": _l("booking"),
    "day_pass": _l("day pass"),
    "fixed_desk": _l("fixed desk"),
    "door_inactive": _l("door switched off"),
    "membership_suspended": _l("membership suspended"),
    "too_early": _l("too early"),
    "no_booking": _l("no booking"),
    "rate_limited": _l("too many attempts"),
    "broker_unreachable": _l("door not reachable"),
    "device_refused": _l("door refused"),
    "refused": _l("door refused"),
    "expired": _l("command too old"),
    "replay": _l("command repeated"),
    "bad_signature": _l("signature wrong"),
    "wrong_door": _l("command for another door"),
    "malformed": _l("unreadable command"),
    "unsupported": _l("not supported"),
    "timeout": _l("no answer from the door"),
}


def _label(table: dict, code) -> str:
    if code is None or code == "":
        return ""
    return str(table.get(str(code), code))


def channel_label(code) -> str:
    return _label(CHANNELS, code)


def result_label(code) -> str:
    return _label(RESULTS, code)


def event_label(code) -> str:
    return _label(EVENTS, code)


def reason_label(code) -> str:
    return _label(REASONS, code)


def outcome_label(event) -> str:
    """The one word of the log's "Result" column: the door's event or the
    attempt's result."""
    if event.event_type:
        return event_label(event.event_type)
    return result_label(event.result)
