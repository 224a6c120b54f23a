"""Where a door unlock spends the service's time, in one process.

    .venv/bin/python bench/profile_unlock.py                # temporary SQLite
    .venv/bin/python bench/profile_unlock.py --db postgresql+psycopg://postgres@127.0.0.1:5432/landdesk_bench_unlock
    .venv/bin/python bench/profile_unlock.py --sql          # the statements
    .venv/bin/python bench/profile_unlock.py --profile      # cProfile (CPU)

Starts a private Mosquitto and the reference controller (as
``unlock_roundtrip.py`` does), then sends ``POST /api/v1/doors/{id}/unlock``
through the Flask test client (the whole stack but the HTTP server), one
member after the other, and prints per unlock: the request thread's CPU
time (what the service costs, steady on a busy machine: the door's round
trip is a wait, not CPU), the wall time, and the statements sent to the
database (BEGIN and COMMIT counted).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_CONFIG, count_round_trips, database_url, percentiles
from unlock_roundtrip import (
    DOOR_PASSWORD,
    SERVICE_PASSWORD,
    prepare_database,
)

from tests.support.mosquitto import DEPLOY_ACL, start_broker
from tests.support.servers import BASE_ENV, REPO_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="database (default: temp SQLite)")
    parser.add_argument("--unlocks", type=int, default=300)
    parser.add_argument("--sql", action="store_true", help="print one unlock's SQL")
    parser.add_argument("--profile", action="store_true", help="cProfile, CPU time")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="landdesk-unlock-profile-"))
    url = database_url(args.db or str(work / "bench.sqlite"))
    if url.startswith("postgresql"):
        from common import ensure_postgres_database

        ensure_postgres_database(url, recreate=True)
    door_id, secret, tokens = prepare_database(url, args.unlocks + 20)
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
        [sys.executable, "-m", "devices.controller", "--config", str(config)],
        cwd=REPO_ROOT,
        stdout=open(work / "controller.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    from booking import create_app

    app = create_app(
        {
            **BENCH_CONFIG,
            "SECRET_KEY": BASE_ENV["LANDDESK_SECRET_KEY"],  # sealed the secret
            "DATABASE_URL": url,
            "MQTT_URL": broker.url("landdesk"),
            "UNLOCK_RATE_LIMIT": "6/minute",
        }
    )
    statements: list[str] = []
    count_round_trips(app.extensions["landdesk_db"].engine, statements)
    client = app.test_client()
    path = f"/api/v1/doors/{door}/unlock"

    def unlock(token: str) -> None:
        response = client.post(path, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.get_data()[:200]}")

    try:
        # Warm up: the MQTT link connects on the first request, the
        # controller may still be connecting to the broker.
        for token in tokens[:20]:
            try:
                unlock(token)
            except RuntimeError:
                time.sleep(0.5)
        cpu, wall, counts = [], [], []
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        for token in tokens[20 : 20 + args.unlocks]:
            statements.clear()
            if profiler is not None:
                profiler.enable()
            c0, w0 = time.thread_time(), time.perf_counter()
            unlock(token)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
            if profiler is not None:
                profiler.disable()
            counts.append(len(statements))
        if args.sql:
            print("\n".join(statements))
        c, w = percentiles(cpu), percentiles(wall)
        print(
            f"{args.unlocks} unlocks, {url.split('://')[0]}: request thread CPU "
            f"p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms, mean "
            f"{sum(cpu) / len(cpu) * 1000:.2f} ms; wall p50 {w['p50']:.2f} ms, "
            f"p99 {w['p99']:.2f} ms; statements per unlock "
            f"{min(counts)}-{max(counts)} (BEGIN/COMMIT included)"
        )
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    finally:
        controller.terminate()
        controller.wait(10)
        broker.close()


if __name__ == "__main__":
    main()
