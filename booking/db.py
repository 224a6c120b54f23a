"""Engine, declarative base, request-scoped sessions and units of work."""

from __future__ import annotations

import contextvars
import fcntl
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, current_app
from flask.globals import _cv_app
from sqlalchemy import (
    DateTime,
    MetaData,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    configure_mappers,
    make_transient_to_detached,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator, TypeEngine

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


class PreparedStatement:
    """A Core statement of a hot path, compiled once, run on the driver.

    A booking runs a handful of statements, and SQLAlchemy's general execute
    path (cache key, parameter set-up, result metadata) cost several times
    what SQLite needs to run them, while PostgreSQL spent more CPU planning
    them than running them (bench/README.md). So the statement is compiled
    once per dialect, with the bind and result processors of its own types,
    and run on a cursor of the connection's driver connection, inside the
    connection's transaction: on SQLite as plain SQL (its driver caches the
    prepared statement), on PostgreSQL as ``EXECUTE`` of a statement prepared
    the first time a connection runs it (``PREPARE``; connections plan these
    generically, see ``make_engine``, as they are index lookups whose plan
    does not depend on the values). Values are converted exactly as
    SQLAlchemy converts them for the Core statement, and driver errors are
    raised as SQLAlchemy's (IntegrityError, ...), a lost connection
    invalidated. Not seen by engine events (``before_cursor_execute``):
    ``statements`` counts them for the benchmarks.

    Parameters are the statement's named bind parameters without a value;
    values in the statement (literals, ``IN`` lists) are fixed. Rows come
    back as tuples in the order of the statement's columns.
    """

    # (statement name, SQL) of every run, when a benchmark sets a list here.
    statements: list[tuple[str, str]] | None = None

    def __init__(self, name: str, statement: Executable):
        self.name = f"landdesk_{name}"
        self.statement = statement
        self._plans: dict[int, _Plan] = {}

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple]:
        """Run with one set of parameters; the rows (empty without columns)."""
        return self._execute(_Driver.of(conn), params)

    def executemany(
        self, conn: Connection, params: Sequence[Mapping[str, Any]]
    ) -> None:
        driver = _Driver.of(conn)
        plan = self._plan(driver)
        arguments = [plan.arguments(p) for p in params]
        self._run(driver, plan, plan.sql, arguments, many=True)

    def _execute(
        self,
        driver: _Driver,
        params: Mapping[str, Any],
        *,
        before: Sequence[tuple[PreparedStatement, Mapping[str, Any]]] = (),
    ) -> list[tuple]:
        plan = self._plan(driver)
        # Statements sent ahead of this one in the same round trip (see
        # DriverConnection); only this one's rows come back.
        sql, arguments = "", ()
        for statement, statement_params in before:
            before_plan = statement._plan(driver)
            sql += before_plan.sql + "; "
            arguments += before_plan.arguments(statement_params)
        return self._run(
            driver, plan, sql + plan.sql, arguments + plan.arguments(params)
        )

    def _plan(self, driver: _Driver) -> _Plan:
        dialect = driver.dialect
        plan = self._plans.get(id(dialect))
        if plan is None:
            plan = self._plans[id(dialect)] = _Plan(self.name, self.statement, dialect)
        if plan.prepare is not None:
            prepared = driver.info.setdefault("landdesk_prepared", set())
            if self.name not in prepared:
                # Session-level, not undone by a rollback: once per connection.
                self._run(driver, None, plan.prepare, ())
                prepared.add(self.name)
        return plan

    def _run(
        self,
        driver: _Driver,
        plan: _Plan | None,
        sql: str,
        arguments: Any,
        *,
        many: bool = False,
    ) -> list[tuple]:
        if PreparedStatement.statements is not None:
            PreparedStatement.statements.append((self.name, sql))
        dialect = driver.dialect
        cursor = driver.dbapi_connection.cursor()
        try:
            if many:
                cursor.executemany(sql, arguments)
            else:
                cursor.execute(sql, arguments)
            if plan is None or not plan.columns or cursor.description is None:
                return []
            if plan.results is None:
                # Some result processors depend on the types the driver reports.
                plan.set_results(dialect, cursor.description)
            return [plan.convert(row) for row in cursor.fetchall()]
        except dialect.loaded_dbapi.Error as error:
            # What SQLAlchemy's own execute does with a driver error.
            lost = dialect.is_disconnect(error, driver.dbapi_connection, cursor)
            if lost:
                driver.invalidate(error)
            raise DBAPIError.instance(
                sql,
                arguments,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=dialect,
            ) from error
        finally:
            cursor.close()


class _Driver:
    """The driver connection under a SQLAlchemy Connection or a pooled one."""

    __slots__ = ("dialect", "dbapi_connection", "info", "invalidate")

    def __init__(self, dialect: Dialect, pooled: Any, invalidate: Callable) -> None:
        self.dialect = dialect
        self.dbapi_connection = pooled.dbapi_connection
        self.info = pooled.info  # lives as long as the driver connection
        self.invalidate = invalidate

    @classmethod
    def of(cls, conn: Connection) -> _Driver:
        return cls(conn.dialect, conn.connection, conn.invalidate)


class DriverTransaction:
    """One SQLite write transaction run straight on a pooled driver connection.

    For the hottest write path only (``bookings.express``), without the ORM
    session: what ``unit_of_work`` makes of a write, the writer queue's lock,
    then ``BEGIN IMMEDIATE``; ROLLBACK when it did not commit. (PostgreSQL's
    express path runs on a DriverConnection.)

        with DriverTransaction(database) as tx:
            rows = tx.execute(FIRST, params)
            tx.execute(LAST, params, commit=True)
    """

    def __init__(self, database: Database):
        engine = database.engine
        if engine.dialect.name != "sqlite":
            raise RuntimeError("DriverTransaction is for SQLite")
        self._queue = (
            database.writer_queue.hold() if database.writer_queue else nullcontext()
        )
        self._queue.__enter__()
        try:
            self._pooled = engine.raw_connection()
        except BaseException:
            self._queue.__exit__(None, None, None)
            raise
        self._driver = _Driver(engine.dialect, self._pooled, self._pooled.invalidate)
        self._begun = False
        self.committed = False

    def _send(self, sql: str) -> None:
        cursor = self._pooled.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    def _begin(self) -> None:
        if self.committed:
            raise RuntimeError("the transaction has committed")
        if not self._begun:
            self._send("BEGIN IMMEDIATE")
            self._begun = True

    def execute(
        self, statement: PreparedStatement, params: Mapping[str, Any], *, commit=False
    ) -> list[tuple]:
        """Run one prepared statement and return its rows; ``commit``:
        COMMIT right after."""
        self._begin()
        rows = statement._execute(self._driver, params)
        if commit:
            self._commit()
        return rows

    def executemany(
        self,
        statement: PreparedStatement,
        params: Sequence[Mapping[str, Any]],
        *,
        commit: bool = False,
    ) -> None:
        self._begin()
        plan = statement._plan(self._driver)
        statement._run(
            self._driver, plan, plan.sql, [plan.arguments(p) for p in params], many=True
        )
        if commit:
            self._commit()

    def _commit(self) -> None:
        self._send("COMMIT")
        self.committed = True

    def close(self) -> None:
        try:
            if self._pooled.dbapi_connection is not None:
                if self._begun and not self.committed:
                    self._send("ROLLBACK")
        finally:
            try:
                self._pooled.close()
            finally:
                self._queue.__exit__(None, None, None)

    def __enter__(self) -> DriverTransaction:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class DriverConnection:
    """A pooled PostgreSQL driver connection in autocommit, for the hottest
    write path only (``bookings.express``), without the ORM session.

    Every round trip to the server costs CPU on both sides of the socket, as
    much as a short statement itself (bench/README.md), so ``run`` sends
    several statements in one round trip. PostgreSQL runs the statements of
    one such message (its simple query protocol) as one transaction, each
    statement with its own snapshot: a statement sees what was committed
    while the one before it waited for a lock. Without BEGIN or COMMIT of its
    own, a write is two round trips where it would be four; an error rolls
    the whole message back.

        with DriverConnection(database) as conn:
            rows = conn.run((READ, params))
            rows = conn.run((LOCK, lock_params), (WRITE, params))
    """

    def __init__(self, database: Database):
        engine = database.engine
        if engine.dialect.name != "postgresql":
            raise RuntimeError("DriverConnection is for PostgreSQL")
        self._pooled = engine.raw_connection()
        self._driver = _Driver(engine.dialect, self._pooled, self._pooled.invalidate)
        self._pooled.dbapi_connection.autocommit = True

    def run(
        self, *statements: tuple[PreparedStatement, Mapping[str, Any]]
    ) -> list[tuple]:
        """Run the statements in one round trip, one transaction; the rows
        of the last."""
        *before, (last, params) = statements
        return last._execute(self._driver, params, before=before)

    def close(self) -> None:
        dbapi_connection = self._pooled.dbapi_connection
        try:
            if dbapi_connection is not None and not dbapi_connection.closed:
                dbapi_connection.autocommit = False  # as the pool lent it
        finally:
            self._pooled.close()

    def __enter__(self) -> DriverConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Plan:
    """A statement compiled for one dialect (see PreparedStatement)."""

    # Placeholders of psycopg2 (pyformat) and SQLite (qmark), and the marker
    # of an IN list.
    _PLACEHOLDER = re.compile(r"%\((\w+)\)s|\?|__\[POSTCOMPILE_(\w+)\]")

    def __init__(self, name: str, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        positional = iter(compiled.positiontup or ())
        # Per placeholder: the caller's parameter (or None for a fixed
        # value), the fixed value, the bind processor.
        self._binds: list[tuple[str | None, Any, Callable | None]] = []
        types: list[TypeEngine] = []

        # PostgreSQL numbers its parameters, so a name used several times
        # (the occupancy query's instants) is sent once: every value is
        # adapted by the driver and parsed by the server.
        numbered: dict[str, str] = {}

        def add(name: str | None, value: Any, type_: TypeEngine) -> str:
            if name is not None and dialect.name == "postgresql":
                if name in numbered:
                    return numbered[name]
                numbered[name] = f"${len(self._binds) + 1}"
            processor = type_.dialect_impl(dialect).bind_processor(dialect)
            if name is None and processor is not None:
                value, processor = processor(value), None
            self._binds.append((name, value, processor))
            types.append(type_)
            return f"${len(self._binds)}"

        def number(match: re.Match) -> str:
            named, in_list = match.group(1), match.group(2)
            if in_list is not None:
                bind = compiled.binds[in_list]
                if dialect.positional:
                    next(positional)
                if bind.value is None:
                    raise ValueError(f"{name}: IN lists must be fixed")
                return ", ".join(add(None, v, bind.type) for v in bind.value)
            bind = compiled.binds[named or next(positional)]
            if bind.value is not None:
                return add(None, bind.value, bind.type)
            return add(bind.key, None, bind.type)

        body = self._PLACEHOLDER.sub(number, compiled.string)
        self.columns = list(getattr(statement, "exported_columns", ()))
        self.results: list[Callable | None] | None = None
        if dialect.name == "postgresql":
            declared = ", ".join(
                dialect.type_compiler_instance.process(t) for t in types
            )
            # Sent without parameters, so a literal % is no longer escaped.
            body = body.replace("%%", "%")
            self.prepare = f"PREPARE {name} ({declared}) AS {body}"
            placeholders = ", ".join(["%s"] * len(self._binds))
            self.sql = f"EXECUTE {name}({placeholders})"
        else:
            self.prepare = None
            self.sql = re.sub(r"\$\d+", "?", body)

    def arguments(self, params: Mapping[str, Any]) -> tuple:
        return tuple(
            value
            if name is None
            else (processor(params[name]) if processor else params[name])
            for name, value, processor in self._binds
        )

    def set_results(self, dialect: Dialect, description: Sequence) -> None:
        self.results = [
            column.type.dialect_impl(dialect).result_processor(dialect, entry[1])
            for column, entry in zip(self.columns, description, strict=True)
        ]

    def convert(self, row: Sequence[Any]) -> tuple:
        return tuple(
            processor(value) if processor else value
            for processor, value in zip(self.results, row, strict=True)
        )


def adopt(db: Session, model: type[T], row: Mapping[str, Any]) -> T:
    """The persistent ``model`` object of a row read or written with Core.

    ``row`` holds every column of the table (anything missing would be
    loaded by a query on first use). The object joins the session as if an
    ORM query had loaded it, without the ORM's per-row work; if the session
    holds that row's object already, that object is returned unchanged, as a
    query would.
    """
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key([row[c.key] for c in mapper.primary_key])
    existing = db.identity_map.get(key)
    if existing is not None:
        return existing
    # As the ORM loads a row: no __init__, values set as already committed.
    if not mapper.configured:
        configure_mappers()
    instance = mapper.class_manager.new_instance()
    for name, value in row.items():
        set_committed_value(instance, name, value)
    make_transient_to_detached(instance)
    db.add(instance)
    return instance


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 20})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per request. A connection that died
    # (server restart) fails one request and the pool is invalidated.
    engine = create_engine(url, pool_recycle=1800, pool_size=5, max_overflow=10)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Only PreparedStatement prepares statements (psycopg2 binds
            # values on the client): plan them once, for any values.
            cursor = dbapi_connection.cursor()
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            cursor.close()
            dbapi_connection.commit()

    return engine


def _app_context():
    return _cv_app.get(None)


def _refresh_locked_rows(orm_execute_state) -> None:
    # Sessions keep loaded objects across commits (expire_on_commit=False), so a
    # locking read must overwrite what an earlier read of the same request put
    # in the identity map; otherwise a check under the lock sees stale values.
    statement = orm_execute_state.statement
    if (
        orm_execute_state.is_select
        and getattr(statement, "_for_update_arg", None) is not None
    ):
        orm_execute_state.update_execution_options(populate_existing=True)


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
        event.listen(self.session_factory, "do_orm_execute", _refresh_locked_rows)
        # One session per application context (that is, per request or CLI
        # command), not per thread.
        self.session = scoped_session(self.session_factory, scopefunc=_app_context)

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
