"""What the stack costs before a booking adds anything, in one run against
``/healthz``: the ceiling of the booking ratio of ``http_load.py``.

    .venv/bin/python bench/stack_floor.py --db postgresql+psycopg://postgres@127.0.0.1:5432/landdesk_bench_1m

Starts gunicorn as ``http_load.py`` does (4 sync workers, wrk with 16
connections), but serving ``floor_app.py``: the real app plus three
bench-only endpoints that each do a part of a token booking and nothing of
the booking itself (a JSON POST; that, logged in by bearer token; that, plus
a unit of work of two trivial statements, which makes the five round trips of
a booking), then real token bookings; then the same floor for the web form
(session cookie, CSRF token, the unit of work, a flashed message, a 303) and
real web-form bookings. All in the same run, each against the same
``/healthz`` figure, with the workers' and PostgreSQL's CPU per request.

A booking can be no cheaper than the floor of the same round trips: if that
floor is below a ratio, no booking implementation through this stack reaches
it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import database_url, loadavg
from http_load import (
    LUA_COUNT_STATUS,
    LUA_DONE,
    LUA_THREADS,
    WRK_THREADS,
    cpu_seconds,
    log_in_browsers,
    postgres_cpu,
    postgres_cpu_since,
    run_wrk,
    seed_bench_location,
    write_form_lua,
    write_lua,
)

from tests.support.servers import start_app_server

FLOOR_LUA = (
    r"""
local tokens = {%(tokens)s}
local path = "%(path)s"
local nthreads = %(threads)d
"""
    + LUA_THREADS
    + r"""

request = function()
  local n = counter * nthreads + tid
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json"}
  if %(auth)s then
    headers["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1]
  end
  return wrk.format("POST", path, headers, '{"resource_id": 1, "date": "2027-01-04"}')
end

"""
    + LUA_COUNT_STATUS
    + LUA_DONE
)

STEPS = (
    ("echo", "/api/v1/bench/echo", False, "JSON POST, no login, no database"),
    ("auth", "/api/v1/bench/auth", True, "+ the app's bearer login (one query)"),
    ("tx", "/api/v1/bench/tx", True, "+ 2 trivial statements in a unit: BEGIN..COMMIT"),
    ("auth-core", "/api/v1/bench/auth-core", True, "login on a bare Core connection"),
    ("tx-core", "/api/v1/bench/tx-core", True, "that + 2 statements, one transaction"),
)


def write_floor_lua(seed: dict, path: str, auth: bool, directory: Path) -> Path:
    script = directory / f"floor-{path.rsplit('/', 1)[-1]}.lua"
    script.write_text(
        FLOOR_LUA
        % {
            "tokens": ", ".join(f'"{token}"' for token in seed["tokens"]),
            "path": path,
            "auth": "true" if auth else "false",
            "threads": WRK_THREADS,
        }
    )
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    url = database_url(args.db)
    pg = url.startswith("postgresql")
    print(f"load average before: {loadavg()}")
    seed = seed_bench_location(url, mail=False)
    workdir = Path(tempfile.mkdtemp(prefix="landdesk-floor-"))
    server = start_app_server(
        url,
        workers=args.workers,
        log_dir=workdir,
        env={"LANDDESK_MAIL_DELIVERY": "worker"},
        extra_args=["--pythonpath", str(Path(__file__).resolve().parent)],
        app="floor_app:create_floor_app()",
    )
    print(
        f"gunicorn: {args.workers} x sync workers; {args.connections} connections,"
        f" {args.duration} s per run; database {url.split('@')[-1]}"
    )

    def measure(target: str, script: Path | None) -> tuple[dict, float, float]:
        workers = server.worker_pids()
        cpu, pg_before = cpu_seconds(workers), postgres_cpu() if pg else {}
        result = run_wrk(server.url + target, args.connections, args.duration, script)
        app_ms = (cpu_seconds(workers) - cpu) / result["requests"] * 1000
        pg_ms = postgres_cpu_since(pg_before) / result["requests"] * 1000 if pg else 0.0
        return result, app_ms, pg_ms

    offset = 0
    try:
        log_in_browsers(server, seed)
        run_wrk(server.url + "/healthz", args.connections, 2)  # warm-up
        for round_no in range(1, args.rounds + 1):
            health, health_ms, _ = measure("/healthz", None)
            print(
                f"round {round_no}: /healthz {health['rps']:.0f} req/s, app CPU "
                f"{health_ms:.2f} ms per request"
            )
            rows = []
            for name, path, auth, what in STEPS:
                script = write_floor_lua(seed, path, auth, workdir)
                rows.append((name, what, *measure(path, script), 201))
            script = write_lua(seed, offset, workdir)
            booking = measure("/api/v1/bookings", script)
            offset += booking[0]["requests"] + 1000
            rows.append(("booking", "POST /api/v1/bookings (real)", *booking, 201))
            script = write_form_lua(seed, offset, workdir, "/bench/form")
            rows.append(
                (
                    "form",
                    "cookie login, CSRF, 2 trivial statements, COMMIT, flash, 303",
                    *measure("/bench/form", script),
                    303,
                )
            )
            script = write_form_lua(seed, offset, workdir)
            form = measure("/bookings", script)
            offset += form[0]["requests"] + 1000
            rows.append(("web form", "POST /bookings (real)", *form, 303))
            for name, what, result, app_ms, pg_ms, expected in rows:
                wrong = result["requests"] - result["statuses"].get(expected, 0)
                print(
                    f"  {name:8} {result['rps']:6.0f} req/s = "
                    f"{result['rps'] / health['rps']:4.0%} of /healthz; app CPU "
                    f"{app_ms:.2f} ms"
                    + (f" + PostgreSQL {pg_ms:.2f} ms" if pg else "")
                    + f"  ({what})"
                    + (f"  WARNING: {wrong} not {expected}" if wrong else "")
                )
    finally:
        server.stop()
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
