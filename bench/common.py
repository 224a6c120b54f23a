"""Shared pieces of the benchmarks: databases, apps, timing, process memory."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from booking import create_app  # noqa: E402

BENCH_CONFIG = {
    "SECRET_KEY": "bench-secret-not-for-production-use-01",
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "MAIL_URL": "console",
}


def database_url(value: str) -> str:
    """``sqlite:PATH``, a plain path, or a full SQLAlchemy URL."""
    if "://" in value:
        return value
    path = value.removeprefix("sqlite:")
    return f"sqlite:///{os.path.abspath(path)}"


def make_app(url: str):
    return create_app({**BENCH_CONFIG, "DATABASE_URL": url})


def ensure_postgres_database(url: str, *, recreate: bool = False) -> None:
    """Create (or drop and create) the database a PostgreSQL URL names."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"),
            {"name": target.database},
        )
        if exists and recreate:
            conn.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def count_round_trips(engine, statements: list[str]):
    """Append each statement the server gets to ``statements``: SQLAlchemy's
    BEGIN/COMMIT/ROLLBACK pass its statement events by, and on a connection in
    autocommit (the request's reads on PostgreSQL) they send nothing. Returns
    a function that stops counting."""
    from sqlalchemy import event

    def _sent(conn) -> bool:
        return not getattr(conn.connection.dbapi_connection, "autocommit", False)

    listeners = []
    for name in ("begin", "commit", "rollback"):

        def _transaction(conn, name=name):
            if _sent(conn):
                statements.append(name.upper())

        listeners.append((name, _transaction))

    def _statement(conn, cursor, statement, params, context, executemany):
        statements.append(" ".join(statement.split()))

    listeners.append(("before_cursor_execute", _statement))
    for name, listener in listeners:
        event.listen(engine, name, listener)

    def stop() -> None:
        for name, listener in listeners:
            event.remove(engine, name, listener)

    return stop


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds."""
    ordered = sorted(samples_s)

    def pick(q: float) -> float:
        index = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
        return ordered[index] * 1000

    return {
        "n": len(ordered),
        "mean": statistics.fmean(ordered) * 1000,
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": ordered[-1] * 1000,
    }


def fmt(stats: dict[str, float]) -> str:
    return (
        f"n={stats['n']} p50={stats['p50']:.2f} ms p90={stats['p90']:.2f} ms "
        f"p99={stats['p99']:.2f} ms max={stats['max']:.2f} ms"
    )


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> str:
    """The 1/5/15-minute load averages: other processes share the 2 cores."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.start
