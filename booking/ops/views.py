"""GET /readyz and GET /metrics (GET /healthz is the network's process check)."""

from __future__ import annotations

import hmac

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    request,
    request_started,
)

from ..db import get_database

bp = Blueprint("ops", __name__)


@bp.get("/readyz")
def readyz():
    from .health import readiness

    checks = readiness(current_app, get_database())
    ready = all(value in ("ok", "off") for value in checks.values())
    return checks, 200 if ready else 503


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), str(token).encode()
    ):
        return Response(
            "metrics need the bearer token\n",
            401,
            {"WWW-Authenticate": "Bearer"},
            mimetype="text/plain",
        )
    from prometheus_client import CONTENT_TYPE_LATEST

    from .metrics import scrape

    return Response(scrape(get_database()), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """The blueprint, the request id and latency layers, the log format."""
    from .logs import RequestIds, configure_logging
    from .metrics import RequestTimer

    configure_logging(app)
    app.register_blueprint(bp)

    def note_route(_sender, **_extra):
        # The latency layer outside Flask labels by this (cheap: no routing).
        # A signal, not before_request: it runs even when a hook answers first.
        rule = request.url_rule
        if rule is not None:
            request.environ["landdesk.route"] = rule.rule

    request_started.connect(note_route, app, weak=False)

    # Outermost: the id is set before (and the time includes) everything else.
    app.wsgi_app = RequestIds(RequestTimer(app.wsgi_app))
