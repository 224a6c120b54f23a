"""Backups of the whole database and their restore.

SQLite: the online backup API copies a consistent snapshot while the service
keeps running (readers and writers wait at most for one page step). The
restore copies the file back page by page under the writer lock.

PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot, compressed;
``pg_restore`` reads it). The restore runs ``pg_restore --clean --if-exists``,
which replaces our tables. Both programs come with the PostgreSQL client
package of the server's version or newer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect, select, table
from sqlalchemy.engine import URL, Engine

from ..db import Base, Database

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    """The backup or restore did not happen; the message says why."""


def is_empty(engine: Engine) -> bool:
    """True when none of the service's tables holds a row."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for name in Base.metadata.tables:
            if (
                name in present
                and conn.execute(select(1).select_from(table(name)).limit(1)).first()
            ):
                return False
    return True


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment carrying it
    (never on the command line, where ``ps`` shows it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    return uri, env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed (apt-get install postgresql-client)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()}")


def backup(database: Database, path: str) -> None:
    """Write a backup of the whole database to ``path`` (replaced atomically).

    Raises BackupError.
    """
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    engine = database.engine
    if engine.dialect.name == "sqlite":
        source = engine.raw_connection()
        try:
            copy = sqlite3.connect(partial)
            try:
                source.driver_connection.backup(copy)
                if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise BackupError("the copy failed its integrity check")
            finally:
                copy.close()
        finally:
            source.close()
    elif engine.dialect.name == "postgresql":
        uri, env = _libpq(engine.url)
        _run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={partial}", uri],
            env,
        )
    else:
        raise BackupError(f"no backup for {engine.dialect.name}")
    os.replace(partial, target)


def restore(database: Database, path: str, *, force: bool = False) -> None:
    """Replace the database's contents with the backup at ``path``.

    Refuses (BackupError) a database that holds data unless ``force``, a file
    that is not a backup of this kind of database, and a missing file.
    """
    source = Path(path)
    try:
        with source.open("rb") as fh:
            magic = fh.read(16)
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror}") from None
    engine = database.engine
    kind = engine.dialect.name
    expected = {"sqlite": SQLITE_MAGIC, "postgresql": PGDUMP_MAGIC}.get(kind)
    if expected is None or not magic.startswith(expected):
        raise BackupError(f"{path} is not a backup of a {kind} database")
    if not force and not is_empty(engine):
        raise BackupError(
            "the database holds data; restoring would replace it "
            "(use --force to do that)"
        )
    database.dispose()  # nothing may hold a lock on what is replaced
    if kind == "sqlite":
        backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        queue = database.writer_queue
        try:
            target = engine.raw_connection()
            try:
                if queue is not None:
                    with queue.hold():
                        backup_file.backup(target.driver_connection)
                else:
                    backup_file.backup(target.driver_connection)
            finally:
                target.close()
        finally:
            backup_file.close()
    else:
        uri, env = _libpq(engine.url)
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={uri}",
                str(source),
            ],
            env,
        )
    engine.dispose()
