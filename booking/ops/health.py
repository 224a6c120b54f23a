"""Readiness: can this process serve requests right now?"""

from __future__ import annotations

import os
from functools import cache

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .. import ROOT
from ..db import Database


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """The code's head revisions and all its revisions (read once per process)."""
    from alembic.script import ScriptDirectory  # only /readyz needs Alembic

    script = ScriptDirectory(os.path.join(ROOT, "migrations"))
    heads = frozenset(script.get_heads())
    known = frozenset(r.revision for r in script.walk_revisions())
    return heads, known


def readiness(app: Flask, database: Database) -> dict[str, str]:
    """``database``, ``migrations`` and ``broker``, each "ok" or what is wrong
    (the broker is "off" when no ``MQTT_URL`` is configured)."""
    from alembic.migration import MigrationContext  # not in every worker's memory

    checks = {"database": "ok", "migrations": "ok", "broker": "off"}
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError:
        checks["database"] = "unreachable"
        checks["migrations"] = "unknown"
    else:
        heads, known = _revisions()
        if current != heads:
            # Older code against a newer schema is as wrong as the reverse.
            checks["migrations"] = "behind" if current <= known else "ahead"
    if app.config.get("MQTT_URL"):
        from ..access.link import get_link

        link = get_link(app)
        checks["broker"] = (
            "ok" if link is not None and link.connected.is_set() else "disconnected"
        )
    return checks
