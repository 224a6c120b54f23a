"""The per-request cost of the layers around every view, in one process.

    .venv/bin/python bench/profile_overhead.py                 # /healthz
    .venv/bin/python bench/profile_overhead.py --profile       # cProfile (CPU)

Sends ``GET /healthz`` (the network's process check: no database, no login)
through the app's WSGI callable (every middleware and hook, no HTTP server,
no test client) and prints the CPU time per request of this thread. What
``/healthz`` costs, every request pays.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_CONFIG


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    from booking import create_app
    from booking.cli import upgrade_database

    work = Path(tempfile.mkdtemp(prefix="landdesk-overhead-"))
    app = create_app(
        {**BENCH_CONFIG, "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite'}"}
    )
    with app.app_context():
        upgrade_database()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": args.path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def one() -> None:
        env = dict(environ, **{"wsgi.input": io.BytesIO(b"")})
        body = app.wsgi_app(env, start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()

    for _ in range(200):  # warm up
        one()
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    if profiler is not None:
        profiler.enable()
    started = time.thread_time()
    for _ in range(args.requests):
        one()
    used = time.thread_time() - started
    if profiler is not None:
        profiler.disable()
    print(
        f"{args.requests} x GET {args.path} ({statuses[-1]}): "
        f"{used / args.requests * 1e6:.0f} µs CPU per request"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
