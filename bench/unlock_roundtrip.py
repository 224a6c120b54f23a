"""Door unlock round trip: HTTP → broker → controller → ack → HTTP, next to a
bare paho publish → ack round trip on the same broker, in the same run.

    .venv/bin/python bench/unlock_roundtrip.py
    .venv/bin/python bench/unlock_roundtrip.py --db postgresql+psycopg2://postgres@127.0.0.1:5432/landdesk_bench_unlock

It

1. starts a private Mosquitto (the deploy ACL, TCP_NODELAY) and the reference
   controller as its own process (``python -m devices.controller``, simulated
   relay, state file on disk);
2. makes a database with one door and many members, each holding a live
   booking and an API token (the per-user limit stays at its default
   ``6/minute``: the load is spread over the members);
3. starts the app under gunicorn (gthread workers; each worker connects its
   own MQTT client after the fork);
4. alternates, one after the other, a bare paho round trip (the service's
   login publishes a signed command and waits for the door's ack) and an
   HTTP unlock (a member's ``POST /api/v1/doors/{id}/unlock`` on a kept-alive
   connection), and compares their p99;
5. measures sustained unlocks per second with wrk (every request must answer
   200; anything else is counted and reported) and the workers' CPU time per
   unlock, which depends far less than latency on other load on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import database_url, fmt, loadavg, percentiles, rss_mb

from tests.support.mosquitto import DEPLOY_ACL, start_broker
from tests.support.servers import BASE_ENV, REPO_ROOT, start_app_server

PASSWORD_HASH = "$argon2id$v=19$m=1024,t=1,p=4$YmVuY2hiZW5jaA$bench"
SERVICE_PASSWORD = "bench-service-pw"
DOOR_PASSWORD = "bench-door-pw"

LUA = r"""
local tokens = {%(tokens)s}
local counter = 0
local threads = {}
setup = function(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
init = function(args)
  counter = tid
end
request = function()
  counter = counter + %(threads)d
  local token = tokens[(counter %% #tokens) + 1]
  return wrk.format("POST", "%(path)s", {["Authorization"] = "Bearer " .. token})
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("STATUS_NON_2XX %%d\n", summary.errors.status))
  for _, p in pairs({50, 90, 99}) do
    io.write(string.format("LAT_P%%d %%.3f\n", p, latency:percentile(p) / 1000))
  end
end
"""


def prepare_database(url: str, members: int) -> tuple[int, str, list[str]]:
    """One location, one desk, one door and ``members`` members with a live
    booking and a token each; returns (door id, door secret, tokens)."""
    from sqlalchemy import insert, select

    from booking import create_app
    from booking.access.services import create_door
    from booking.auth.models import SessionKind, User
    from booking.auth.services import create_user, start_session
    from booking.bookings.models import Booking
    from booking.cli import upgrade_database
    from booking.db import get_db
    from booking.spaces.services import create_location, create_resource

    app = create_app(
        {
            "SECRET_KEY": BASE_ENV["LANDDESK_SECRET_KEY"],
            "DATABASE_URL": url,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
        }
    )
    with app.app_context():
        upgrade_database()
        db = get_db()
        stamp = int(time.time())
        operator = create_user(
            db,
            email=f"unlock-op-{stamp}@example.org",
            password="bench-password",
            name="Bench operator",
            role="operator",
        )
        location = create_location(
            db,
            operator,
            {
                "name": f"Unlock bench {stamp}",
                "slug": f"unlock-bench-{stamp}",
                "address": "Markt 1",
                "lat": 51.4,
                "lon": 12.6,
            },
        )
        desk = create_resource(
            db,
            operator,
            location.id,
            {"name": "Desk", "kind": "desk"},
        )
        door, secret = create_door(
            db, operator, location.id, {"name": "Bench door", "kind": "landdesk"}
        )
        now = datetime.now(UTC)
        users = [
            {
                "email": f"unlock-{stamp}-{i}@example.org",
                "name": f"Member {i}",
                "password_hash": PASSWORD_HASH,
                "role": "member",
                "is_active": True,
                "created_at": now,
                "password_changed_at": now,
            }
            for i in range(members)
        ]
        db.execute(insert(User), users)
        db.commit()
        rows = db.scalars(
            select(User).where(User.email.like(f"unlock-{stamp}-%")).order_by(User.id)
        ).all()
        db.execute(
            insert(Booking),
            [
                {
                    "user_id": user.id,
                    "resource_id": desk.id,
                    "location_id": location.id,
                    "seat": 0,
                    "starts_at": now - timedelta(hours=1),
                    "ends_at": now + timedelta(hours=6),
                    "booked_on": now.date(),
                    "part": "hours",
                    "status": "confirmed",
                    "created_at": now,
                    "sequence": 0,
                }
                for user in rows
            ],
        )
        db.commit()
        tokens = [start_session(db, user, SessionKind.API) for user in rows]
        door_id = door.id
    app.extensions["landdesk_db"].dispose()
    return door_id, secret, tokens


class BareRoundTrip:
    """The service's broker login, publishing signed commands itself."""

    def __init__(self, host: str, port: int, door_id: str, secret: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from devices.client import set_nodelay

        self.door_id, self.secret = door_id, secret
        self.acks: dict[str, threading.Event] = {}
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set("landdesk", SERVICE_PASSWORD)
        self.client.on_socket_open = set_nodelay
        self.client.on_connect = lambda c, *a: c.subscribe(
            f"landdesk/doors/{door_id}/ack", qos=1
        )
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def _on_message(self, client, userdata, message) -> None:
        event = self.acks.get(json.loads(message.payload)["id"])
        if event is not None:
            event.set()

    def once(self) -> float:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from devices.messages import make_unlock

        command = make_unlock(self.door_id, self.secret, open_s=1, ttl_s=3)
        done = threading.Event()
        self.acks[command.id] = done
        props = Properties(PacketTypes.PUBLISH)
        props.MessageExpiryInterval = 3
        started = time.perf_counter()
        self.client.publish(
            f"landdesk/doors/{self.door_id}/cmd",
            command.to_json(),
            qos=1,
            properties=props,
        )
        if not done.wait(5):
            raise RuntimeError("no ack")
        elapsed = time.perf_counter() - started
        del self.acks[command.id]
        return elapsed

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_unlock(conn: http.client.HTTPConnection, path: str, token: str) -> float:
    started = time.perf_counter()
    conn.request("POST", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"unlock answered {response.status}: {body[:200]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database (default: temp SQLite)")
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="landdesk-unlock-bench-"))
    url = database_url(args.db or str(work / "bench.sqlite"))
    if url.startswith("postgresql"):
        from common import ensure_postgres_database

        ensure_postgres_database(url, recreate=True)
    door_id, secret, tokens = prepare_database(url, args.members)
    door = str(door_id)
    broker = start_broker(
        {"landdesk": SERVICE_PASSWORD, door: DOOR_PASSWORD}, acl_path=DEPLOY_ACL
    )
    config = work / "door.toml"
    config.write_text(
        "[mqtt]\n"
        f'url = "mqtt://{door}:{DOOR_PASSWORD}@{broker.host}:{broker.port}"\n'
        "[door]\n"
        f'id = "{door}"\nsecret = "{secret}"\nopen_s = 1\nmax_open_s = 2\n'
        f'relay = "simulated"\nstate_file = "{work / "door-state.json"}"\n'
    )
    controller = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devices.controller",
            "--config",
            str(config),
            "--log-level",
            "WARNING",
        ],
        cwd=REPO_ROOT,
        stdout=open(work / "controller.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    server = start_app_server(
        url,
        workers=args.workers,
        worker_class="gthread",
        threads=args.threads,
        env={
            "LANDDESK_MQTT_URL": broker.url("landdesk"),
            "LANDDESK_UNLOCK_RATE_LIMIT": "6/minute",
        },
        log_dir=work,
    )
    path = f"/api/v1/doors/{door}/unlock"
    bare = BareRoundTrip(broker.host, broker.port, door, secret)
    print(
        f"gunicorn: {args.workers} x gthread, {args.threads} threads; "
        f"database {url.split('@')[-1]}; {len(tokens)} members; "
        "rate limit 6/minute per member (default)"
    )
    try:
        # Warm up: every worker connects its MQTT client on its first request.
        warm = http.client.HTTPConnection(server.host, server.port, timeout=10)
        for token in tokens[: args.workers * 8]:
            http_unlock(warm, path, token)
        warm.close()
        offset = args.workers * 8
        bare_s: list[float] = []
        http_s: list[float] = []
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        for i in range(args.samples):
            bare_s.append(bare.once())
            http_s.append(http_unlock(conn, path, tokens[offset + i]))
        conn.close()
        offset += args.samples
        bare_stats, http_stats = percentiles(bare_s), percentiles(http_s)
        print(f"bare paho publish -> ack : {fmt(bare_stats)}")
        print(f"HTTP unlock round trip   : {fmt(http_stats)}")
        overhead = http_stats["p99"] - bare_stats["p99"]
        print(
            f"service share: p50 {http_stats['p50'] - bare_stats['p50']:.2f} ms, "
            f"p99 {overhead:.2f} ms (target <= 5 ms at p99): "
            f"{'PASS' if overhead <= 5 else 'FAIL'}"
        )
        script = work / "unlock.lua"
        script.write_text(
            LUA
            % {
                "tokens": ",".join(f'"{t}"' for t in tokens[offset:]),
                "threads": 2,
                "path": path,
            }
        )
        rss_before = {pid: rss_mb(pid) for pid in server.worker_pids()}
        cpu_before = sum(cpu_s(pid) for pid in server.worker_pids())
        result = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{args.connections}",
                f"-d{args.duration}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                server.url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu_used = sum(cpu_s(pid) for pid in server.worker_pids()) - cpu_before
        lines = result.stdout.splitlines()
        rate = next(float(x.split()[1]) for x in lines if x.startswith("Requests/sec"))
        bad = next(int(x.split()[1]) for x in lines if x.startswith("STATUS_NON_2XX"))
        lat = {
            x.split()[0]: float(x.split()[1]) for x in lines if x.startswith("LAT_P")
        }
        print(
            f"sustained: {rate:.1f} unlocks/s over {args.duration} s with "
            f"{args.connections} connections; non-200: {bad}; "
            f"p50 {lat['LAT_P50']:.2f} ms p99 {lat['LAT_P99']:.2f} ms "
            f"(target >= 150/s: {'PASS' if rate >= 150 and bad == 0 else 'FAIL'})"
        )
        # CPU time barely depends on what else runs on the machine; latency
        # does.
        print(
            f"worker CPU per unlock: {cpu_used / (rate * args.duration) * 1000:.2f} ms "
            "(all threads: request, MQTT network thread, door reports)"
        )
        rss = ", ".join(
            f"{rss_before.get(pid, 0):.0f}->{rss_mb(pid):.0f} MB"
            for pid in server.worker_pids()
        )
        print(f"worker RSS: {rss}; controller RSS {rss_mb(controller.pid):.0f} MB")
        print(f"load average after: {loadavg()}")
    finally:
        bare.close()
        server.stop()
        controller.terminate()
        controller.wait(10)
        broker.close()


if __name__ == "__main__":
    main()
