"""``python -m devices.controller --config FILE`` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devices import messages as m
from devices import pins

ROOT = Path(__file__).resolve().parents[2]
RSS_LIMIT_KB = 30 * 1024


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_controller_process_end_to_end(tmp_path, broker, server, make_door):
    door = make_door(broker)
    fifo = tmp_path / "keypad"
    config = tmp_path / "door.toml"
    config.write_text(
        f"""
[mqtt]
url = "mqtt://{door.id}:{door.password}@{broker.host}:{broker.port}"
prefix = "landdesk"

[door]
id = "{door.id}"
secret = "{door.secret}"
open_s = 1
max_open_s = 3
relay = "simulated"
state_file = "state.json"
held_open_alert_s = 60

[keypad]
kind = "fifo"
path = "{fifo}"
"""
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "devices.controller", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = ""
    try:
        state = server.wait_for(
            lambda r: (
                r.topic == m.topic("landdesk", door.id, "state")
                and r.json()["status"] == "online"
            ),
            timeout=10,
        )
        assert state is not None, "controller did not come online"
        time.sleep(0.2)

        cmd = m.make_unlock(door.id, door.secret, open_s=1)
        server.send_command(door.id, cmd.to_json())
        assert server.wait_ack(door, cmd.id).ok
        assert server.wait_event(door, "opened", cmd=cmd.id)

        now = time.time()
        pin = pins.offline_pin(door.secret, door.id, now, now + 1800, index=0)
        wrong = pin[:7] + f"{(int(pin[7:]) + 1) % 100000:05d}"
        with open(fifo, "w") as keypad:
            keypad.write(f"{wrong}\n{pin}\n")
        assert server.wait_event(door, "pin_refused").reason == "wrong"
        assert server.wait_event(door, "pin_accepted")

        rss = _rss_kb(proc.pid)
        (tmp_path / "rss.txt").write_text(str(rss))
        print(f"controller VmRSS: {rss} kB")
        assert rss < RSS_LIMIT_KB
        assert (tmp_path / "state.json").exists()

        server.received.clear()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        offline = server.wait_for(
            lambda r: (
                r.topic == m.topic("landdesk", door.id, "state")
                and r.json()["status"] == "offline"
            )
        )
        assert offline is not None
    except AssertionError as exc:
        proc.kill()
        proc.wait()
        output = proc.stdout.read().decode()
        raise AssertionError(f"{exc}\n--- controller output ---\n{output}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output = output or proc.stdout.read().decode()
        proc.stdout.close()
    assert "Traceback" not in output, output
    assert door.secret not in output


def test_invalid_config_exits_with_message(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[door]\nid = "a/b"\nsecret = "00"\n[mqtt]\nurl = "x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "devices.controller", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
