"""The real app plus three bench-only endpoints, for ``stack_floor.py``.

Each endpoint does a part of what a token booking does, with nothing of the
booking's own work, so that a run shows what the stack costs before the
booking adds anything:

- ``POST /api/v1/bench/echo``: a JSON body in, a JSON answer (201) out,
  through every hook and middleware of the app; no login, no database.
- ``POST /api/v1/bench/auth``: the same, logged in by the bearer token through
  the app's own login path (Flask-Login's request loader, the user's query;
  on PostgreSQL in autocommit, so no BEGIN and no ROLLBACK around it).
- ``POST /api/v1/bench/tx``: the same, plus a unit of work of two trivial
  statements committed at the end of the request: the user's query, BEGIN,
  two statements, COMMIT, the five round trips of a token booking.
- ``POST /api/v1/bench/auth-core`` and ``/api/v1/bench/tx-core``: the same
  two without the ORM session, Flask-Login and the request's unit of work:
  the app's own login query on a bare SQLAlchemy Core connection (in
  autocommit for the login alone; in one ``engine.begin()`` transaction with
  the two statements for the other), the cheapest login SQLAlchemy offers.
- ``POST /bench/form``: what a web-form booking does around the booking: the
  session cookie's login, the CSRF token of the form, the same unit of work
  of two trivial statements, a flashed message and a 303 redirect to "my
  bookings".

Never registered by ``booking.create_app``: gunicorn loads this module only in
the bench (``--pythonpath bench floor_app:create_floor_app()``).
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import text

from booking import create_app
from booking.auth.models import SessionKind
from booking.auth.services import _LOGIN, login_params
from booking.db import get_database, get_db, unit_of_work

bp = Blueprint("bench_floor", __name__, url_prefix="/api/v1/bench")
form_bp = Blueprint("bench_floor_form", __name__, url_prefix="/bench")

_TRIVIAL = text("SELECT CAST(:n AS integer) + 1")


@bp.post("/echo")
def echo():
    body = request.get_json()
    return jsonify(id=1, echo=body), 201


@bp.post("/auth")
@login_required
def auth():
    body = request.get_json()
    return jsonify(id=current_user.id, echo=body), 201


@bp.post("/tx")
@login_required
def tx():
    body = request.get_json()
    db = get_db()
    with unit_of_work(db):
        first = db.execute(_TRIVIAL, {"n": current_user.id}).scalar_one()
        second = db.execute(_TRIVIAL, {"n": first}).scalar_one()
    return jsonify(id=second, echo=body), 201


def _bearer_params() -> dict:
    token = request.headers.get("Authorization", "").partition(" ")[2]
    return login_params(token.strip(), SessionKind.API)


@bp.post("/auth-core")
def auth_core():
    body = request.get_json()
    engine = get_database().engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_LOGIN, _bearer_params()).first()
    if row is None:
        return jsonify(error="unauthorized"), 401
    return jsonify(id=row.id, echo=body), 201


@bp.post("/tx-core")
def tx_core():
    body = request.get_json()
    with get_database().engine.begin() as conn:
        row = conn.execute(_LOGIN, _bearer_params()).first()
        if row is None:
            return jsonify(error="unauthorized"), 401
        first = conn.execute(_TRIVIAL, {"n": row.id}).scalar_one()
        second = conn.execute(_TRIVIAL, {"n": first}).scalar_one()
    return jsonify(id=second, echo=body), 201


@form_bp.post("/form")
@login_required
def form():
    db = get_db()
    with unit_of_work(db):
        first = db.execute(_TRIVIAL, {"n": current_user.id}).scalar_one()
        db.execute(_TRIVIAL, {"n": first}).scalar_one()
    flash(f"Booked: desk {request.form['resource_id']} on {request.form['date']}.")
    return redirect(url_for("bookings.mine"), 303)


def create_floor_app():
    app = create_app()
    app.register_blueprint(bp)
    app.register_blueprint(form_bp)
    return app
