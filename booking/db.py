"""Engine, declarative base, request-scoped sessions and units of work."""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import TypeVar

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import DateTime, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    make_transient_to_detached,
    sessionmaker,
)
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC instants on every backend.

    SQLite has no time zones, so values are stored as naive UTC there and made
    aware again on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is expected")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Set while a unit of work runs, so that SQLite starts its transaction with
# BEGIN IMMEDIATE: the write lock is taken before the conflict check reads, which
# is SQLite's equivalent of SELECT ... FOR UPDATE.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "landdesk_write_intent", default=False
)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy (below) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=20000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Straight to the driver: two of these run per request, and the full
        # execute path of exec_driver_sql cost more than the BEGIN itself.
        connection.connection.dbapi_connection.execute(
            "BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN DEFERRED"
        )


class WriterQueue:
    """Makes SQLite writers of all processes queue on a lock file.

    SQLite lets a second writer poll with growing sleeps (its busy handler),
    so under load most of a booking's latency was sleeping. An exclusive
    ``flock`` around each write transaction wakes the next writer the moment
    the previous one commits. Threads of one process queue on a mutex first,
    because ``flock`` does not exclude threads sharing a file description.
    """

    def __init__(self, database_path: str):
        self.path = database_path + ".writer-lock"
        self._mutex = threading.RLock()
        self._fd: int | None = None
        self._pid: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._mutex:
            if self._pid != os.getpid():  # a forked worker opens its own
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def persistent(db: Session, instance: T) -> T:
    """``instance``, built from every column of a row read or written with
    Core, as the session's persistent object of that row, without the ORM's
    loading machinery (its cost per row was a good part of a booking,
    bench/README.md). If the session holds the row's object already, that
    one is returned, as a query would.
    """
    existing = db.identity_map.get(identity_key(instance=instance))
    if existing is not None:
        return existing
    # Its values become the committed state, as if a query had loaded them.
    make_transient_to_detached(instance)
    db.add(instance)
    return instance


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 20})
        _configure_sqlite(engine)
        return engine
    connect_args = {}
    if make_url(url).get_dialect().driver == "psycopg":
        # psycopg 3 prepares a statement on the server once a connection has
        # run it this often; SQLAlchemy's compiled cache hands it the same
        # SQL string every time, so the hot statements are planned once per
        # connection (bench/README.md).
        connect_args["prepare_threshold"] = 1
    # No pre-ping: it costs a round trip per request. A connection that died
    # (server restart) fails one request and the pool is invalidated.
    return create_engine(
        url,
        pool_recycle=1800,
        pool_size=5,
        max_overflow=10,
        connect_args=connect_args,
    )


def _refresh_in_unit_of_work(orm_execute_state) -> None:
    # Sessions keep loaded objects across commits (expire_on_commit=False), so
    # a read inside a unit of work (a locking read above all) must overwrite
    # what an earlier read of the same request put in the identity map;
    # otherwise a check under the lock sees stale values.
    if orm_execute_state.is_select and orm_execute_state.session.info.get(
        "in_unit_of_work"
    ):
        orm_execute_state.update_execution_options(populate_existing=True)


class RequestSessions:
    """One session per application context (a request, a CLI command, a
    worker's task), kept in ``flask.g``: ``sessions()`` gives it,
    ``sessions.remove()`` closes it."""

    _KEY = "landdesk_db_session"

    def __init__(self, factory: sessionmaker):
        self.factory = factory

    def __call__(self) -> Session:
        session = g.get(self._KEY)
        if session is None:
            session = self.factory()
            setattr(g, self._KEY, session)
        return session

    def remove(self) -> None:
        if has_app_context():
            session = g.pop(self._KEY, None)
            if session is not None:
                session.close()


class Database:
    """Holds the engine and the request-scoped session of one app."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        path = self.engine.url.database if url.startswith("sqlite") else None
        writer_queue = WriterQueue(path) if path and path != ":memory:" else None
        self.writer_queue = writer_queue
        self.session_factory = sessionmaker(
            bind=self.engine,
            expire_on_commit=False,
            info={"writer_queue": writer_queue},
        )
        event.listen(self.session_factory, "do_orm_execute", _refresh_in_unit_of_work)
        self.session = RequestSessions(self.session_factory)

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


def init_app(app: Flask) -> None:
    database = Database(app.config["DATABASE_URL"])
    app.extensions["landdesk_db"] = database

    @app.teardown_appcontext
    def _remove_session(_exc):
        database.session.remove()


def get_database() -> Database:
    return current_app.extensions["landdesk_db"]


def get_db() -> Session:
    return get_database().session()


@contextmanager
def unit_of_work(db: Session) -> Iterator[Session]:
    """One atomic business operation: commit on success, roll back on error.

    Nested calls join the outer unit. Callbacks registered with ``on_commit``
    run only after the outermost commit succeeded.
    """
    if db.info.get("in_unit_of_work"):
        yield db
        return
    writer_queue = db.info.get("writer_queue")
    if db.get_bind().dialect.name == "sqlite" and db.in_transaction():
        # End the read transaction of this request so that the write
        # transaction takes SQLite's write lock up front (BEGIN IMMEDIATE).
        # PostgreSQL (READ COMMITTED) simply goes on in the same transaction.
        db.commit()
    token = _write_intent.set(True)
    db.info["in_unit_of_work"] = True
    db.info["after_commit"] = []
    try:
        with writer_queue.hold() if writer_queue else nullcontext():
            try:
                yield db
                db.commit()
            except BaseException:
                db.rollback()
                db.info["after_commit"] = []
                raise
    finally:
        db.info["in_unit_of_work"] = False
        _write_intent.reset(token)
    callbacks, db.info["after_commit"] = db.info["after_commit"], []
    for callback in callbacks:
        callback()


def on_commit(db: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current unit of work commits (never on rollback)."""
    if not db.info.get("in_unit_of_work"):
        raise RuntimeError("on_commit needs a unit of work")
    db.info["after_commit"].append(callback)
