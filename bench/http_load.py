"""Booking creation over HTTP under gunicorn, against a trivial endpoint.

    .venv/bin/python bench/http_load.py --db /tmp/lbench/1m.sqlite
    .venv/bin/python bench/http_load.py --db postgresql+psycopg://... \
        --workers 4 --worker-class sync

On a database made by bench/generate.py this

1. adds a bench location (open every day, booking horizon 400 days) with
   400 desks and 400 members with API tokens (a new one every run);
2. starts the app under gunicorn;
3. measures ``GET /healthz`` with wrk (16 connections): the ceiling of this
   server on this machine;
4. measures ``POST /api/v1/bookings`` with wrk (16 connections, a Lua
   script in which member *i* books desk *i* on ever later days, so every
   request must succeed with 201 and any other status is counted and
   reported), sampling the workers' VmRSS and the CPU time of the workers
   (and of PostgreSQL) per request meanwhile;
   with ``--mail-delivery worker`` (the default) the confirmation mails are
   sent by a ``flask notifications deliver --loop`` process (``nice 19``),
   started after each booking load (``--mail-worker after``, the default:
   the web tier measured alone) or running throughout (``--mail-worker
   during``: sharing the two cores); the script waits until every mail is
   sent and reports how long that took and the worker's CPU per mail;
   then the same for bookings through the web form (``--form``, the
   default): 400 other members logged in through the login page, each
   posting ``POST /bookings`` with its session cookie and CSRF token, answered
   by a 303 redirect (to "my bookings" when booked: the script counts the
   redirects that are not);
5. measures one client booking one desk after the other (p50/p99);
6. fetches the phone page ``/l/<slug>`` of a generated location and reports
   its size and whether it carries any script.

wrk (Debian package ``wrk``) is the load generator: it is written in C and
needs far less CPU than the server, which matters on two cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import (
    BENCH_CONFIG,
    database_url,
    fmt,
    loadavg,
    make_app,
    percentiles,
    rss_mb,
)
from sqlalchemy import create_engine, insert, text

from tests.support.servers import start_app_server

DESKS = 400
HORIZON_DAYS = 400
WRK_THREADS = 2
PASSWORD_HASH = "$argon2id$v=19$m=1024,t=1,p=4$YmVuY2hiZW5jaA$bench"

# The parts every wrk script here shares: a counter per thread, the statuses
# counted per thread and merged at the end as "status N COUNT" lines (run_wrk).
LUA_THREADS = r"""
local threads = {}
local counter = 0

setup = function(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

init = function(args)
  statuses = {}
end
"""
LUA_COUNT_STATUS = r"""
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
"""
LUA_DONE = r"""
done = function(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  for status, count in pairs(merged) do
    io.write(string.format("status %%d %%d\n", status, count))
  end
end
"""

LUA = (
    r"""
local tokens = {%(tokens)s}
local desks = {%(desks)s}
local days = {%(days)s}
local offset = %(offset)d
local nthreads = %(threads)d
"""
    + LUA_THREADS
    + r"""

request = function()
  local n = offset + counter * nthreads + tid
  counter = counter + 1
  local i = n %% #desks
  local day = days[math.floor(n / #desks) + 1]
  local body = '{"resource_id": ' .. desks[i + 1] .. ', "date": "' .. day .. '"}'
  return wrk.format("POST", "/api/v1/bookings", {
    ["Authorization"] = "Bearer " .. tokens[i + 1],
    ["Content-Type"] = "application/json",
  }, body)
end

"""
    + LUA_COUNT_STATUS
    + LUA_DONE
)


FORM_LUA = (
    r"""
local cookies = {%(cookies)s}
local csrf = {%(csrf)s}
local desks = {%(desks)s}
local days = {%(days)s}
local offset = %(offset)d
local nthreads = %(threads)d
"""
    + LUA_THREADS
    + r"""

request = function()
  local n = offset + counter * nthreads + tid
  counter = counter + 1
  local i = n %% #desks
  local day = days[math.floor(n / #desks) + 1]
  local body = "resource_id=" .. desks[i + 1] .. "&date=" .. day
    .. "&back=%%2F&csrf_token=" .. csrf[i + 1]
  return wrk.format("POST", "%(path)s", {
    ["Cookie"] = cookies[i + 1],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end

response = function(status, headers, body)
  -- 303 to "my bookings" is a booking; a 303 back to "/" a refusal.
  local key = status
  if status == 303 and not string.find(headers["Location"] or "", "/bookings$") then
    key = 3030
  end
  statuses[key] = (statuses[key] or 0) + 1
end

"""
    + LUA_DONE
)
FORM_PASSWORD = "bench-form-password"


def seed_bench_location(url: str, *, mail: bool = True) -> dict:
    """A fresh location with DESKS desks and members holding API tokens."""
    from booking.auth.models import SessionKind, User
    from booking.auth.services import hash_password, start_session
    from booking.db import get_db
    from booking.spaces.models import Location, Resource

    app = make_app(url)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    now = datetime.now(UTC)
    with app.app_context():
        db = get_db()
        engine = db.get_bind()
        every_day = {
            day: [["08:00", "18:00"]]
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
        with engine.begin() as conn:
            location_id = conn.execute(
                insert(Location.__table__).returning(Location.__table__.c.id),
                {
                    "slug": f"bench-{stamp}",
                    "name": "Bench location",
                    "village": "Bench",
                    "address": "Markt 1, 04838 Eilenburg",
                    "lat": 51.46,
                    "lon": 12.63,
                    "timezone": "Europe/Berlin",
                    "operator_model": "classic",
                    "description": "",
                    "opening_hours": every_day,
                    "horizon_days": HORIZON_DAYS,
                    "cancel_cutoff_hours": 0,
                    "midday": "13:00",
                    "is_active": True,
                    "created_at": now,
                },
            ).scalar_one()
            desk_ids = list(
                conn.execute(
                    insert(Resource.__table__).returning(
                        Resource.__table__.c.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "location_id": location_id,
                            "name": f"Bench desk {n}",
                            "kind": "desk",
                            "capacity": 1,
                            "tags": [],
                            "description": "",
                            "position": n,
                            "is_active": True,
                            "created_at": now,
                        }
                        for n in range(DESKS)
                    ],
                ).scalars()
            )
            user_ids = list(
                conn.execute(
                    insert(User.__table__).returning(
                        User.__table__.c.id, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "email": f"writer{n}-{stamp}@bench.invalid",
                            "name": f"Writer {n}",
                            "password_hash": PASSWORD_HASH,
                            "role": "member",
                            "is_active": True,
                            "created_at": now,
                            "password_changed_at": now,
                        }
                        for n in range(DESKS)
                    ],
                ).scalars()
            )
            # Members of the web-form load, who log in with a password.
            form_hash = hash_password(FORM_PASSWORD)
            form_emails = [f"browser{n}-{stamp}@bench.invalid" for n in range(DESKS)]
            conn.execute(
                insert(User.__table__),
                [
                    {
                        "email": email,
                        "name": f"Browser {n}",
                        "password_hash": form_hash,
                        "role": "member",
                        "is_active": True,
                        "created_at": now,
                        "password_changed_at": now,
                    }
                    for n, email in enumerate(form_emails)
                ],
            )
        users = {user.id: user for user in db.query(User).filter(User.id.in_(user_ids))}
        tokens = [start_session(db, users[uid], SessionKind.API) for uid in user_ids]
        if not mail:
            # The members switch their mails off (a normal preference).
            from booking.notifications.services import set_preferences

            for uid in user_ids:
                set_preferences(db, users[uid], [])
        slug = db.get(Location, 1).slug if db.get(Location, 1) else f"bench-{stamp}"
        app.extensions["landdesk_db"].dispose()
    first = date.today() + timedelta(days=1)
    days = [(first + timedelta(days=n)).isoformat() for n in range(HORIZON_DAYS - 2)]
    return {
        "desks": desk_ids,
        "tokens": tokens,
        "form_emails": form_emails,
        "days": days,
        "page_slug": slug,
    }


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def log_in_browsers(server, seed: dict) -> None:
    """Log the web-form members in through the login page; their session
    cookies and CSRF tokens go into ``seed``."""
    import requests

    cookies, tokens = [], []
    for email in seed["form_emails"]:
        web = requests.Session()
        token = _CSRF.search(web.get(server.url + "/login").text).group(1)
        response = web.post(
            server.url + "/login",
            data={"email": email, "password": FORM_PASSWORD, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.status_code == 302, (response.status_code, email)
        tokens.append(_CSRF.search(web.get(server.url + "/bookings").text).group(1))
        cookies.append("; ".join(f"{c.name}={c.value}" for c in web.cookies))
    seed["cookies"], seed["csrf"] = cookies, tokens


def write_form_lua(
    seed: dict, offset: int, directory: Path, target: str = "/bookings"
) -> Path:
    path = directory / f"form-{target.strip('/').replace('/', '-')}-{offset}.lua"
    path.write_text(
        FORM_LUA
        % {
            "cookies": ", ".join(json.dumps(c) for c in seed["cookies"]),
            "csrf": ", ".join(json.dumps(t) for t in seed["csrf"]),
            "desks": ", ".join(str(d) for d in seed["desks"]),
            "days": ", ".join(json.dumps(d) for d in seed["days"]),
            "offset": offset,
            "threads": WRK_THREADS,
            "path": target,
        }
    )
    return path


def write_lua(seed: dict, offset: int, directory: Path) -> Path:
    path = directory / f"bookings-{offset}.lua"
    path.write_text(
        LUA
        % {
            "tokens": ", ".join(json.dumps(t) for t in seed["tokens"]),
            "desks": ", ".join(str(d) for d in seed["desks"]),
            "days": ", ".join(json.dumps(d) for d in seed["days"]),
            "offset": offset,
            "threads": WRK_THREADS,
        }
    )
    return path


def run_wrk(url: str, connections: int, duration: int, script=None) -> dict:
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    statuses = {
        int(code): int(count)
        for code, count in re.findall(r"^status (\d+) (\d+)$", output, re.MULTILINE)
    }
    errors = re.search(r"Socket errors:.*", output)
    return {
        "rps": rps,
        "requests": total,
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "statuses": statuses,
        "socket_errors": errors.group(0) if errors else None,
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes so far (/proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of each process of the PostgreSQL server."""
    found = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True)
    return {int(pid): cpu_seconds([int(pid)]) for pid in found.stdout.split()}


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU the server used since ``before``, new backends included."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())


class MailWorker:
    """``flask notifications deliver --loop`` at nice 19, as production runs it."""

    def __init__(self, url: str, log_dir: Path):
        self.env = {
            **os.environ,
            "LANDDESK_DATABASE_URL": url,
            "LANDDESK_SECRET_KEY": BENCH_CONFIG["SECRET_KEY"],
            "LANDDESK_MAIL_URL": "console",
        }
        self.log_path = log_dir / "mail-worker.log"
        self.process: subprocess.Popen | None = None
        self.engine = create_engine(url)

    def start(self) -> None:
        if self.process is not None:
            return
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    "nice",
                    "-n",
                    "19",
                    str(Path(sys.executable).parent / "flask"),
                    "--app",
                    "booking",
                    "notifications",
                    "deliver",
                    "--loop",
                    "--interval",
                    "0.5",
                ],
                cwd=Path(__file__).resolve().parents[1],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def due(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(
                text("SELECT count(*) FROM bookings WHERE mail_due IS NOT NULL")
            )

    def cpu(self) -> float:
        return cpu_seconds([self.process.pid]) if self.process else 0.0

    def wait_until_sent(self, timeout: float = 600) -> dict:
        """Wait until no booking owes a mail; seconds and worker CPU taken."""
        start, cpu = time.monotonic(), self.cpu()
        backlog = self.due()
        while self.due():
            if time.monotonic() - start > timeout:
                raise RuntimeError("the mail worker did not catch up")
            time.sleep(0.2)
        return {
            "backlog": backlog,
            "seconds": time.monotonic() - start,
            "cpu": self.cpu() - cpu,
        }

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # it finishes the batch in hand
            self.process.wait(timeout=30)
            self.process = None

    def close(self) -> None:
        self.stop()
        self.engine.dispose()


class RssSampler(threading.Thread):
    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.peak: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for pid in self.server.worker_pids():
                try:
                    self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))
                except FileNotFoundError:
                    pass
            time.sleep(0.2)

    def stop(self) -> dict[int, float]:
        self.stopping.set()
        self.join()
        return self.peak


def single_client(server, seed: dict, offset: int, count: int) -> dict:
    samples = []
    for n in range(offset, offset + count):
        i = n % DESKS
        body = json.dumps(
            {"resource_id": seed["desks"][i], "date": seed["days"][n // DESKS]}
        )
        start = time.perf_counter()
        conn = http.client.HTTPConnection(server.host, server.port)
        conn.request(
            "POST",
            "/api/v1/bookings",
            body=body,
            headers={
                "Authorization": f"Bearer {seed['tokens'][i]}",
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        payload = response.read()
        samples.append(time.perf_counter() - start)
        conn.close()
        assert response.status == 201, (response.status, payload[:300])
    return percentiles(samples)


def phone_page(server, slug: str) -> dict:
    conn = http.client.HTTPConnection(server.host, server.port)
    conn.request("GET", f"/l/{slug}", headers={"Accept-Language": "de"})
    response = conn.getresponse()
    body = response.read()
    headers = sum(len(k) + len(v) + 4 for k, v in response.getheaders())
    conn.close()
    assert response.status == 200, response.status
    html = body.decode()
    assets = re.findall(r'<link[^>]+href="([^"]+\.css[^"]*)"', html)
    asset_bytes = 0
    for asset in assets:
        conn = http.client.HTTPConnection(server.host, server.port)
        conn.request("GET", asset)
        asset_bytes += len(conn.getresponse().read())
        conn.close()
    return {
        "html_bytes": len(body),
        "header_bytes": headers,
        "css_bytes": asset_bytes,
        "scripts": len(re.findall(r"<script", html, re.IGNORECASE)),
        "images": len(re.findall(r"<img", html, re.IGNORECASE)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument(
        "--no-form",
        action="store_true",
        help="leave out the web-form bookings",
    )
    parser.add_argument(
        "--no-mail",
        action="store_true",
        help="the bench members opt out of booking mails",
    )
    parser.add_argument(
        "--mail-delivery",
        choices=("worker", "thread"),
        default="worker",
        help="LANDDESK_MAIL_DELIVERY of the server (worker: a separate process)",
    )
    parser.add_argument(
        "--mail-worker",
        choices=("after", "during"),
        default="after",
        help="run the mail worker after each booking load (default) or during it",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    url = database_url(args.db)
    print(f"load average before: {loadavg()}")
    seed = seed_bench_location(url, mail=not args.no_mail)
    workdir = Path(tempfile.mkdtemp(prefix="landdesk-bench-"))
    server = start_app_server(
        url,
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        log_dir=workdir,
        env={"LANDDESK_MAIL_DELIVERY": args.mail_delivery},
    )
    mailer = MailWorker(url, workdir) if args.mail_delivery == "worker" else None
    if mailer and args.mail_worker == "during":
        mailer.start()
    print(
        f"gunicorn: {args.workers} x {args.worker_class} workers, "
        f"{args.threads} threads; {args.connections} connections, "
        f"{args.duration} s per run; database {url.split('@')[-1]}; "
        f"confirmation mails {'off' if args.no_mail else 'on'}, "
        f"MAIL_DELIVERY={args.mail_delivery}"
        + (f", mail worker {args.mail_worker} the load" if mailer else "")
    )
    offset = 0
    pg = url.startswith("postgresql")
    try:
        if not args.no_form:
            log_in_browsers(server, seed)
        run_wrk(server.url + "/healthz", args.connections, 2)  # warm-up
        for round_no in range(1, args.rounds + 1):
            workers = server.worker_pids()
            cpu = cpu_seconds(workers)
            health = run_wrk(server.url + "/healthz", args.connections, args.duration)
            health_cpu = cpu_seconds(workers) - cpu
            sampler = RssSampler(server)
            sampler.start()
            script = write_lua(seed, offset, workdir)
            cpu, pg_before = cpu_seconds(workers), postgres_cpu() if pg else {}
            mail_cpu = mailer.cpu() if mailer else 0.0
            booking = run_wrk(
                server.url + "/api/v1/bookings",
                args.connections,
                args.duration,
                script,
            )
            booking_cpu = cpu_seconds(workers) - cpu
            pg_cpu = postgres_cpu_since(pg_before) if pg else 0.0
            mail_cpu = (mailer.cpu() - mail_cpu) if mailer else 0.0
            peak = sampler.stop()
            offset += booking["requests"] + 1000
            ok = booking["statuses"].get(201, 0)
            ratio = booking["rps"] / health["rps"]
            print(
                f"round {round_no}: healthz {health['rps']:.0f} req/s "
                f"(p50 {health['p50']}, p99 {health['p99']}); bookings "
                f"{booking['rps']:.0f} req/s (p50 {booking['p50']}, p99 "
                f"{booking['p99']}) statuses {booking['statuses']} -> "
                f"{ratio:.0%} of healthz; worker RSS peak "
                f"{max(peak.values()):.0f} MB "
                f"({', '.join(f'{v:.0f}' for v in sorted(peak.values()))})"
            )
            print(
                f"  app CPU per request: healthz "
                f"{health_cpu / health['requests'] * 1000:.2f} ms, booking "
                f"{booking_cpu / booking['requests'] * 1000:.2f} ms"
                + (
                    f" (+ PostgreSQL {pg_cpu / booking['requests'] * 1000:.2f} ms)"
                    if pg
                    else ""
                )
                + (
                    f"; mail worker during the load {mail_cpu:.1f} s CPU"
                    if mailer and args.mail_worker == "during"
                    else ""
                )
            )
            if ok != booking["requests"]:
                print(f"  WARNING: {booking['requests'] - ok} bookings were not 201")
            if booking["socket_errors"]:
                print(f"  {booking['socket_errors']}")
            if not args.no_form:
                sampler = RssSampler(server)
                sampler.start()
                script = write_form_lua(seed, offset, workdir)
                cpu, pg_before = cpu_seconds(workers), postgres_cpu() if pg else {}
                form = run_wrk(
                    server.url + "/bookings", args.connections, args.duration, script
                )
                form_cpu = cpu_seconds(workers) - cpu
                pg_cpu = postgres_cpu_since(pg_before) if pg else 0.0
                peak = sampler.stop()
                offset += form["requests"] + 1000
                booked = form["statuses"].get(303, 0)
                print(
                    f"  web form: {form['rps']:.0f} req/s (p50 {form['p50']}, p99 "
                    f"{form['p99']}) statuses {form['statuses']} (3030: redirected "
                    f"back, not booked) -> {form['rps'] / health['rps']:.0%} of "
                    f"healthz; worker RSS peak {max(peak.values()):.0f} MB; app CPU "
                    f"per booking {form_cpu / form['requests'] * 1000:.2f} ms"
                    + (
                        f" (+ PostgreSQL {pg_cpu / form['requests'] * 1000:.2f} ms)"
                        if pg
                        else ""
                    )
                )
                if booked != form["requests"]:
                    print(
                        f"  WARNING: {form['requests'] - booked} form bookings "
                        "were not booked"
                    )
            if mailer:
                mailer.start()  # a no-op if it runs already
                sent = mailer.wait_until_sent()
                if args.mail_worker == "after":
                    mailer.stop()
                print(
                    f"  mail worker: {sent['backlog']} bookings still owed their "
                    f"mail after the load, sent in {sent['seconds']:.1f} s "
                    f"({sent['cpu'] / max(sent['backlog'], 1) * 1000:.2f} ms CPU "
                    f"per mail)"
                )
        stats = single_client(server, seed, offset, args.single)
        print(f"one client, one booking after the other: {fmt(stats)}")
        page = phone_page(server, seed["page_slug"])
        print(
            f"/l/{seed['page_slug']}: {page['html_bytes']} bytes HTML + "
            f"{page['header_bytes']} bytes headers + {page['css_bytes']} bytes CSS "
            f"= {(page['html_bytes'] + page['header_bytes'] + page['css_bytes'])}"
            f" bytes; {page['scripts']} scripts, {page['images']} images"
        )
        if mailer:
            mailer.start()
            mailer.wait_until_sent()
    finally:
        server.stop()
        if mailer:
            mailer.close()
    print(f"load average after: {loadavg()}; gunicorn log: {server.log_path}")


if __name__ == "__main__":
    main()
