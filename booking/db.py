"""Engine, declarative base, request-scoped sessions and units of work."""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from flask import Flask, current_app, g, has_app_context, has_request_context
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

    def acquire(self) -> None:
        self._mutex.acquire()
        try:
            if self._pid != os.getpid():  # a forked worker opens its own
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


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
    psycopg3 = make_url(url).get_dialect().driver == "psycopg"
    if psycopg3:
        # psycopg 3 prepares a statement on the server once a connection has
        # run it this often; SQLAlchemy's compiled cache hands it the same
        # SQL string every time, so the hot statements are planned once per
        # connection (bench/README.md).
        connect_args["prepare_threshold"] = 1
    # No pre-ping: it costs a round trip per request. A connection that died
    # (server restart) fails one request and the pool is invalidated.
    engine = create_engine(
        url,
        pool_recycle=1800,
        pool_size=5,
        max_overflow=10,
        connect_args=connect_args,
    )
    if psycopg3:
        _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _no_autocommit_in_the_pool(dbapi_connection, _record):
        # A request's autocommit reads (_read_without_transaction) end with
        # the request: the next user of the connection (a job, the next
        # request) gets transactions as usual.
        if (
            dbapi_connection is not None
            and not dbapi_connection.closed
            and dbapi_connection.autocommit
        ):
            dbapi_connection.autocommit = False


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

    def __init__(self, factory: sessionmaker, *, autocommit_reads: bool = False):
        self.factory = factory
        self.autocommit_reads = autocommit_reads

    def __call__(self) -> Session:
        session = g.get(self._KEY)
        if session is None:
            session = self.factory()
            setattr(g, self._KEY, session)
            if self.autocommit_reads and _in_request():
                _read_without_transaction(session)
        return session

    def current(self) -> Session | None:
        """The context's session if it has one (without making one)."""
        return g.get(self._KEY)

    def remove(self) -> None:
        if has_app_context():
            session = g.pop(self._KEY, None)
            if session is not None:
                session.close()
                _release_writer_queue(session)


# --- transactions -------------------------------------------------------------
#
# A session's ``info`` carries the state of its current (root) transaction:
#   "pending"    callbacks to run once it commits (``on_commit``)
#   "committed"  callbacks whose transaction has committed, still to run
#   "wrote"      a unit of work finished in it and its commit is deferred to
#                the end of the request
#   "queue_held" it holds SQLite's writer queue
# and "in_unit_of_work" while a unit's body runs.


def _after_commit(session: Session) -> None:
    # Also sent when a savepoint is released: only the root transaction's end
    # (below) decides. No SQL may run here.
    session.info["committing"] = True


def _read_without_transaction(session: Session) -> None:
    """PostgreSQL: the request's reads before its first write run in
    autocommit, each statement on its own.

    Under READ COMMITTED every statement of a transaction takes its own
    snapshot anyway, so a read-only transaction gives nothing but two round
    trips (BEGIN, and the ROLLBACK when the connection goes back to the
    pool). A read that locks (FOR UPDATE) only runs in a unit of work, whose
    first write switches the same connection back (``_write_from_here``), so
    its statements begin a real transaction; the pool's check-in switches
    back any connection still in autocommit (``_configure_postgresql``).
    psycopg's ``autocommit`` is a setting of the client, sent nowhere.
    """
    session.connection().connection.dbapi_connection.autocommit = True
    session.info["autocommit_read"] = True


def _write_from_here(session: Session) -> None:
    """End the autocommit reads: the next statement begins a transaction."""
    session.connection().connection.dbapi_connection.autocommit = False
    session.info["autocommit_read"] = False


def _after_transaction_end(session: Session, transaction) -> None:
    info = session.info
    committed, info["committing"] = info.get("committing", False), False
    if transaction.parent is not None:
        return  # a savepoint: its outcome is not the transaction's
    info["autocommit_read"] = False
    if committed:
        info.setdefault("committed", []).extend(info.get("pending", ()))
    info["pending"] = []  # run once committed, dropped on a rollback
    info["wrote"] = False
    _release_writer_queue(session)


def _release_writer_queue(session: Session) -> None:
    if session.info.get("queue_held"):
        session.info["queue_held"] = False
        session.info["writer_queue"].release()


def _run_committed(session: Session) -> None:
    callbacks = session.info.get("committed")
    if not callbacks:
        return
    session.info["committed"] = []
    for callback in callbacks:
        callback()


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
        event.listen(self.session_factory, "after_commit", _after_commit)
        event.listen(
            self.session_factory, "after_transaction_end", _after_transaction_end
        )
        self.session = RequestSessions(
            self.session_factory,
            autocommit_reads=self.engine.dialect.driver == "psycopg",
        )

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


# Set in ``g`` of the request's own application context when the request
# starts: units of work there write into the request's transaction. An app
# context pushed inside a request (the inline mail delivery, a job run from a
# view) has a ``g`` of its own without it, so its units commit as they go, as
# outside a request: finish_request only ever ends the request's session.
_REQUEST_SCOPE = "landdesk_request_scope"
# Set in ``g`` once the request has answered: what runs after (the callbacks
# of its commit) writes in units of its own.
_REQUEST_DONE = "landdesk_request_done"
# Set in ``g`` when a unit of work of the request failed: nothing is kept.
_REQUEST_FAILED = "landdesk_request_failed"


def init_app(app: Flask) -> None:
    database = Database(app.config["DATABASE_URL"])
    app.extensions["landdesk_db"] = database

    def _open_request_unit():
        g.setdefault(_REQUEST_SCOPE, True)

    # First of all before_request hooks: the ones after it may write.
    app.before_request_funcs.setdefault(None, []).insert(0, _open_request_unit)

    # Registered first, so it runs after every other after_request hook.
    @app.after_request
    def _close_request_unit(response):
        session = database.session.current()
        if session is not None:
            finish_request(
                session, ok=response.status_code < 400 and not g.get(_REQUEST_FAILED)
            )
        return response

    @app.teardown_appcontext
    def _remove_session(_exc):
        database.session.remove()


def finish_request(db: Session, *, ok: bool) -> None:
    """End the request's transaction: commit what its units wrote if the
    request succeeded, else roll it all back; then run the callbacks of
    whatever committed. A read-only request costs nothing here: its read
    transaction ends when the session closes, as before."""
    if db.info.get("wrote"):
        if ok:
            db.commit()
        else:
            db.rollback()
    _release_writer_queue(db)
    # What the callbacks write (inline mail delivery in tests) is their own
    # units' business, committed as they go.
    g.setdefault(_REQUEST_DONE, True)
    _run_committed(db)


def get_database() -> Database:
    return current_app.extensions["landdesk_db"]


def get_db() -> Session:
    return get_database().session()


def _in_request() -> bool:
    # The request's own app context, before the request has answered. (A
    # request context that is never dispatched, ``app.test_request_context()``,
    # has no request unit: its units commit as they go.)
    return (
        has_request_context()
        and g.get(_REQUEST_SCOPE, False)
        and not g.get(_REQUEST_DONE, False)
    )


@contextmanager
def unit_of_work(
    db: Session, *, durable: bool = False, savepoint: bool = False
) -> Iterator[Session]:
    """One atomic business operation.

    In a request, the request is the transaction: a unit writes (and flushes,
    so constraint errors surface here) into the request's transaction, which
    commits when the request answers with a success (below 400). A unit that
    fails rolls back everything the request wrote and marks the request
    failed, so nothing of it is kept whatever the view then answers (an error
    page, a redirect with a message). No savepoints are needed for that: a
    failed unit leaves nothing to keep around it.

    Outside a request (CLI, jobs, the mail thread) each unit is its own
    transaction: commit on success, roll back on error.

    ``durable``: commit at the end of this unit even inside a request, for
    what must stay when the request then answers with an error (the audit
    row of a refused door). It commits whatever the request wrote before it
    too, so only use it before or without other units.

    ``savepoint``: in a request, this unit is one of several independent
    ones (the days of a series): it runs in a SAVEPOINT, and when it fails
    only its own writes and callbacks are undone; the request's other units
    stay and the request is not marked failed. Outside a request every unit
    is its own transaction anyway.

    Nested calls join the outer unit. Callbacks registered with ``on_commit``
    run only after the transaction that holds them committed.
    """
    info = db.info
    if info.get("in_unit_of_work"):
        yield db
        return
    deferred = not durable and _in_request()
    token = _write_intent.set(True)
    if not info.get("wrote"):
        # The transaction's first write.
        if info.get("autocommit_read"):
            # PostgreSQL's reads so far ran in autocommit: the unit's
            # statements begin a transaction, on the same connection.
            _write_from_here(db)
        elif db.get_bind().dialect.name == "sqlite" and db.in_transaction():
            # End the read transaction so that the write transaction takes
            # SQLite's write lock up front (BEGIN IMMEDIATE).
            db.commit()
        queue = info.get("writer_queue")
        if queue is not None and not info.get("queue_held"):
            queue.acquire()
            info["queue_held"] = True  # released when the transaction ends
    info["in_unit_of_work"] = True
    pending = info.setdefault("pending", [])
    kept = len(pending)
    nested = db.begin_nested() if deferred and savepoint else None
    try:
        try:
            yield db
            if deferred:
                db.flush()
                if nested is not None:
                    nested.commit()
                info["wrote"] = True
            else:
                db.commit()
        except BaseException:
            if nested is not None and nested.is_active:
                # Only this unit is undone; the request goes on.
                nested.rollback()
                del pending[kept:]
                info["wrote"] = True
                raise
            db.rollback()
            info["pending"], info["wrote"] = [], False  # also if nothing began
            if _in_request():
                g.setdefault(_REQUEST_FAILED, True)
            raise
    finally:
        info["in_unit_of_work"] = False
        _write_intent.reset(token)
        if not info.get("wrote"):
            _release_writer_queue(db)  # a unit that ran no SQL began nothing
    if not deferred:
        _run_committed(db)


def on_commit(db: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the transaction of the current unit of work
    commits (never on rollback): at the end of the request in a request."""
    if not db.info.get("in_unit_of_work"):
        raise RuntimeError("on_commit needs a unit of work")
    db.info["pending"].append(callback)
