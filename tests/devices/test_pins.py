"""Offline PINs with a per-booking index, and signed revocation lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from devices import messages as m
from devices import pins as p

# The worked example of docs/protocol.md (section 8).
SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
NOW = 1767225600  # 2026-01-01T00:00:00Z
WORKED_PIN = "792040372914"
WORKED_REVOCATION = (
    '{"door":"7","iat":1767225600,"pins":[[981790,2,0],[981792,4,3]],'
    '"sig":"b056a228f871b5dcc74bf090a1c9b65ced2475675c398b1c52c2fd4551b28160",'
    '"v":1}'
)


def test_worked_example_matches_docs():
    assert p.offline_pin(SECRET, "7", NOW, NOW + 7200, index=3) == WORKED_PIN


def test_pin_layout_and_window():
    start = 1_767_250_000  # 06:46:40Z, floored to 06:30
    pin = p.offline_pin(SECRET, "7", start, start + 3600, index=42)
    slot = start // 1800
    assert len(pin) == 12 and pin.isdigit()
    assert pin[:3] == f"{slot % 1000:03d}"
    assert pin[3:5] == "03"  # 06:30 .. 08:00 (end ceiled)
    assert pin[5:7] == "42"
    assert p.check_pin(SECRET, "7", pin, start) == (
        slot * 1800,
        (slot + 3) * 1800,
        42,
    )


def test_bookings_with_the_same_window_get_different_pins():
    pins = {p.offline_pin(SECRET, "7", NOW, NOW + 3600, index=i) for i in range(100)}
    assert len(pins) == 100
    for i, pin in enumerate(sorted(pins, key=lambda x: x[5:7])):
        assert p.check_pin(SECRET, "7", pin, NOW + 60)[2] == i


def test_pin_with_changed_index_is_wrong():
    pin = p.offline_pin(SECRET, "7", NOW, NOW + 1800, index=1)
    other = pin[:5] + "02" + pin[7:]
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", other, NOW + 60)
    assert exc.value.reason == "wrong"


def test_pin_accepts_spaces_and_checks_boundaries():
    pin = p.offline_pin(SECRET, "7", NOW, NOW + 1800, index=0)
    spaced = f"{pin[:3]} {pin[3:5]} {pin[5:7]} {pin[7:]}"
    assert p.check_pin(SECRET, "7", spaced, NOW) == (NOW, NOW + 1800, 0)
    assert p.check_pin(SECRET, "7", pin, NOW + 1799)
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", pin, NOW + 1800)  # half-open window
    assert exc.value.reason == "outside_window"
    assert exc.value.window == (NOW, NOW + 1800, 0)
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", pin, NOW - 1)
    assert exc.value.reason == "outside_window"


def test_pin_is_bound_to_door_and_secret():
    pin = p.offline_pin(SECRET, "7", NOW, NOW + 1800, index=5)
    for door, secret in (("8", SECRET), ("7", m.new_secret())):
        with pytest.raises(m.PinRejected) as exc:
            p.check_pin(secret, door, pin, NOW + 60)
        assert exc.value.reason == "wrong"


def test_pin_with_changed_duration_is_wrong():
    pin = p.offline_pin(SECRET, "7", NOW, NOW + 1800, index=0)
    longer = pin[:3] + "48" + pin[5:]
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", longer, NOW + 7200)
    assert exc.value.reason == "wrong"


@pytest.mark.parametrize(
    "pin",
    ["", "123", "12345678901", "1234567890", "12300abcde12", "123000012345"],
)
def test_malformed_pins(pin):
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", pin, NOW)
    assert exc.value.reason == "malformed"


def test_revoked_pin_is_refused_others_with_its_window_are_not():
    pin = p.offline_pin(SECRET, "7", NOW, NOW + 3600, index=4)
    other = p.offline_pin(SECRET, "7", NOW, NOW + 3600, index=5)
    revoked = {(NOW // 1800, 2, 4)}
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", pin, NOW + 60, revoked)
    assert exc.value.reason == "revoked"
    assert exc.value.window == (NOW, NOW + 3600, 4)
    assert p.check_pin(SECRET, "7", other, NOW + 60, revoked) == (NOW, NOW + 3600, 5)


def test_pin_wraps_around_mod_1000():
    # A slot ending in 999 starts the window; "now" is in the next slot (…000).
    start_slot = 981_999
    start = start_slot * 1800
    pin = p.offline_pin(SECRET, "7", start, start + 3 * 1800, index=0)
    assert pin.startswith("9990300")
    assert p.check_pin(SECRET, "7", pin, start + 1800 + 5) == (
        start,
        start + 3 * 1800,
        0,
    )
    # Far from now (> 500 slots ≈ 10 days) the same digits mean another start.
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", pin, start + 600 * 1800)
    assert exc.value.reason == "wrong"


def test_future_pin_is_genuine_but_outside_window():
    start = NOW + 3 * 86400
    pin = p.offline_pin(SECRET, "7", start, start + 3600, index=0)
    with pytest.raises(m.PinRejected) as exc:
        p.check_pin(SECRET, "7", pin, NOW)
    assert exc.value.reason == "outside_window"
    assert exc.value.window == (start, start + 3600, 0)


def test_pin_window_uses_utc_instants_across_dst():
    # Night of the spring DST change in Berlin: 01:00-04:00 local is 2 real hours.
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 1, 0, tzinfo=berlin).timestamp()
    end = datetime(2026, 3, 29, 4, 0, tzinfo=berlin).timestamp()
    assert end - start == 2 * 3600
    pin = p.offline_pin(SECRET, "7", start, end, index=0)
    assert pin[3:5] == "04"
    window = p.check_pin(SECRET, "7", pin, start + 60)
    assert window == (int(start), int(end), 0)
    assert datetime.fromtimestamp(window[1], UTC).hour == 2  # 04:00 CEST = 02:00Z


@pytest.mark.parametrize(
    ("start", "end", "index"),
    [
        (NOW, NOW, 0),
        (NOW, NOW - 1, 0),
        (NOW, NOW + 86401, 0),
        (NOW + 900, NOW + 86400 + 900, 0),
        (NOW, NOW + 1800, 100),
        (NOW, NOW + 1800, -1),
    ],
)
def test_offline_pin_refuses_bad_windows_and_indexes(start, end, index):
    with pytest.raises(ValueError):
        p.offline_pin(SECRET, "7", start, end, index=index)


def test_offline_pin_allows_exactly_24_hours_on_the_grid():
    assert p.offline_pin(SECRET, "7", NOW, NOW + 86400, index=0)[3:5] == "48"


# --- revocation lists ---------------------------------------------------------


def test_revocation_list_round_trip_and_worked_example():
    keys = [(981792, 4, 3), (981790, 2, 0)]
    message = p.make_revocations("7", SECRET, keys, now=NOW)
    assert message.to_json() == WORKED_REVOCATION
    parsed = p.parse_revocations(message.to_json(), SECRET, door_id="7")
    assert parsed.pins == ((981790, 2, 0), (981792, 4, 3))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"pins": [[981792, 4, 4]]}, "bad_signature"),
        ({"door": "8"}, "wrong_door"),
        ({"v": 2}, "unsupported"),
        ({"pins": [[981792, 4]]}, "malformed"),
        ({"pins": [[981792, 4, True]]}, "malformed"),
        ({"extra": 1}, "malformed"),
    ],
)
def test_revocation_list_refusals(change, reason):
    obj = p.make_revocations("7", SECRET, [(981792, 4, 3)], now=NOW).to_dict()
    obj.update(change)
    with pytest.raises(m.MessageRejected) as exc:
        p.parse_revocations(json.dumps(obj), SECRET, door_id="7")
    assert exc.value.reason == reason


def test_revocation_list_signed_with_another_secret_is_refused():
    message = p.make_revocations("7", m.new_secret(), [(981792, 4, 3)], now=NOW)
    with pytest.raises(m.MessageRejected) as exc:
        p.parse_revocations(message.to_json(), SECRET, door_id="7")
    assert exc.value.reason == "bad_signature"
