"""The INSERT with ``ON CONFLICT`` of the database in use: the service runs on
PostgreSQL and SQLite, and both dialects of SQLAlchemy offer one."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite


def conflict_insert(dialect: str):
    """``insert`` of ``dialect`` ("postgresql", else SQLite), with
    ``on_conflict_do_nothing`` and ``on_conflict_do_update``."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
