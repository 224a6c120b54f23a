"""Wire format: canonical JSON, signatures, command checks (PINs: test_pins)."""

from __future__ import annotations

import json

import pytest

from devices import messages as m

# The worked example of docs/protocol.md (checked with openssl as well).
SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
NOW = 1767225600  # 2026-01-01T00:00:00Z
CMD_ID = "3f2a9c0e5b7d4e21a8c6f1d2e3b4a596"
CANONICAL = (
    b'{"action":"unlock","door":"7","exp":1767225610,"iat":1767225600,'
    b'"id":"3f2a9c0e5b7d4e21a8c6f1d2e3b4a596","open_s":5,"v":1}'
)
SIG = "3dfee524b05d040ced4b8044f43fc4df4864369287127792a44d92bfcb19a6cf"


def unlock(**kw) -> m.UnlockCommand:
    args = {"open_s": 5, "now": NOW, "command_id": CMD_ID}
    args.update(kw)
    return m.make_unlock("7", SECRET, **args)


def check(payload: str | bytes, **kw) -> m.UnlockCommand:
    args = {
        "door_id": "7",
        "secret": SECRET,
        "now": NOW + 1,
        "seen_ids": set(),
    }
    args.update(kw)
    return m.check_command(payload, **args)


def resign(obj: dict, secret: str = SECRET) -> str:
    obj = dict(obj)
    obj["sig"] = m.sign(obj, secret)
    return json.dumps(obj)


def test_worked_example_matches_docs():
    cmd = unlock()
    assert m.canonical(cmd.to_dict()) == CANONICAL
    assert cmd.sig == SIG


def test_canonical_sorts_keys_drops_sig_and_keeps_unicode():
    obj = {"b": 1, "a": "Grünau", "sig": "x", "c": [1, None, True]}
    assert m.canonical(obj) == '{"a":"Grünau","b":1,"c":[1,null,true]}'.encode()


def test_canonical_ignores_input_formatting():
    cmd = unlock()
    pretty = json.dumps(cmd.to_dict(), indent=2, sort_keys=False)
    assert check(pretty) == cmd


def test_round_trip_of_every_message():
    cmd = unlock()
    assert m.UnlockCommand.from_json(cmd.to_json()) == cmd
    ack = m.make_ack(CMD_ID, "7", SECRET, ok=False, reason="expired", now=NOW)
    assert m.parse_ack(ack.to_json(), SECRET, door_id="7") == ack
    state = m.make_state("7", SECRET, status="online", open=True, battery=80, now=NOW)
    assert m.parse_state(state.to_json(), SECRET) == state
    will = m.last_will("7")
    assert will.to_json() == '{"door":"7","status":"offline"}'
    assert m.parse_state(will.to_json(), SECRET).status == "offline"
    event = m.make_event("7", SECRET, "pin_accepted", now=NOW, window=(NOW, NOW + 60))
    assert m.parse_event(event.to_json(), SECRET, door_id="7") == event


def test_ack_and_event_reject_tampering():
    ack = m.make_ack(CMD_ID, "7", SECRET, ok=False, reason="expired", now=NOW)
    obj = ack.to_dict() | {"ok": True}
    del obj["reason"]
    with pytest.raises(m.MessageRejected) as exc:
        m.parse_ack(json.dumps(obj), SECRET)
    assert exc.value.reason == "bad_signature"
    event = m.make_event("7", SECRET, "opened", now=NOW)
    with pytest.raises(m.MessageRejected):
        m.parse_event(json.dumps(event.to_dict() | {"offline": True}), SECRET)
    with pytest.raises(m.MessageRejected):
        m.parse_event(event.to_json(), m.new_secret())
    online = m.make_state("7", None, status="online", open=False, now=NOW)
    with pytest.raises(m.MessageRejected):
        m.parse_state(online.to_json(), SECRET)  # unsigned "online" is refused


def test_valid_command_passes():
    assert check(unlock().to_json()).id == CMD_ID


@pytest.mark.parametrize(
    ("payload", "kw", "reason"),
    [
        (b"x" * 3000, {}, "malformed"),
        (b"not json", {}, "malformed"),
        (b"[1,2]", {}, "malformed"),
        (b'{"v":2}', {}, "unsupported"),
        ("MISSING_FIELD", {}, "malformed"),
        ("BOOL_OPEN_S", {}, "malformed"),
        ("LOCK_ACTION", {}, "unsupported"),
        ("OTHER_DOOR", {}, "wrong_door"),
        ("GOOD", {"now": NOW + 10 + 6}, "expired"),
        ("GOOD", {"now": NOW - 6}, "expired"),
        ("TOO_LONG", {}, "expired"),
        ("FORGED", {}, "bad_signature"),
        ("TAMPERED", {}, "bad_signature"),
        ("GOOD", {"seen_ids": {CMD_ID}}, "replay"),
        ("GOOD", {"max_open_s": 3}, "malformed"),
    ],
)
def test_check_command_refusals(payload, kw, reason):
    good = unlock().to_dict()
    payloads = {
        "GOOD": json.dumps(good),
        "MISSING_FIELD": resign({k: v for k, v in good.items() if k != "iat"}),
        "BOOL_OPEN_S": resign(good | {"open_s": True}),
        "LOCK_ACTION": resign(good | {"action": "lock"}),
        "OTHER_DOOR": unlock().to_json().replace('"door":"7"', '"door":"8"'),
        "TOO_LONG": resign(good | {"exp": NOW + 31}),
        "FORGED": resign(good, m.new_secret()),
        "TAMPERED": json.dumps(good | {"open_s": 60}),
    }
    with pytest.raises(m.CommandRejected) as exc:
        check(payloads.get(payload, payload), **kw)
    assert exc.value.reason == reason


def test_clock_skew_allowance_is_inclusive():
    cmd = unlock(ttl_s=10)
    assert check(cmd.to_json(), now=NOW + 10 + 5)
    assert check(cmd.to_json(), now=NOW - 5)


def test_signature_is_checked_before_replay():
    # A forged command reusing a seen id says bad_signature, not replay.
    forged = resign(unlock().to_dict(), m.new_secret())
    with pytest.raises(m.CommandRejected) as exc:
        check(forged, seen_ids={CMD_ID})
    assert exc.value.reason == "bad_signature"


def test_verify_survives_non_ascii_signature():
    obj = unlock().to_dict() | {"sig": "ü" * 64}
    assert m.verify(obj, SECRET) is False


@pytest.mark.parametrize("door_id", ["", "a/b", "+", "#", "7/#"])
def test_topic_rejects_unsafe_door_ids(door_id):
    with pytest.raises(ValueError):
        m.topic("landdesk", door_id, "cmd")


def test_topics():
    assert m.topic("landdesk", "7", "cmd") == "landdesk/doors/7/cmd"
    assert m.topic("site/x", "7", "state") == "site/x/doors/7/state"
    assert m.topic_filter("landdesk", "ack") == "landdesk/doors/+/ack"
    assert m.parse_topic("landdesk", "landdesk/doors/7/event") == ("7", "event")
    assert m.parse_topic("landdesk", "landdesk/doors/7/other") is None
    with pytest.raises(ValueError):
        m.topic("landdesk", "7", "rpc")


def test_make_unlock_limits():
    with pytest.raises(ValueError):
        unlock(ttl_s=31)
    with pytest.raises(ValueError):
        unlock(open_s=0)
    with pytest.raises(ValueError):
        m.make_unlock("7", "not hex", open_s=5)
