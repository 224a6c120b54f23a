"""Log lines with the request id, as text or JSON lines (LOG_FORMAT=json).

Every request gets an id: the proxy's ``X-Request-ID`` when it sends a sane
one (so the proxy's log and ours match), else a fresh one. It is answered in
the ``X-Request-ID`` header and stamped on every log line written while the
request runs, by whatever logger. Jobs stamp ``job:<name>``.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from flask import Flask

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "landdesk_request_id", default="-"
)
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", request_id.get()),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(app: Flask) -> None:
    """One handler on the root logger (replacing the one an earlier app put
    there), so library and gunicorn-worker lines carry the id too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("landdesk")
    handler.addFilter(RequestIdFilter())
    if str(app.config.get("LOG_FORMAT", "text")).lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "landdesk"]:
        root.removeHandler(old)
    root.addHandler(handler)
    level = str(app.config.get("LOG_LEVEL", "INFO")).upper()
    root.setLevel(level)
    app.logger.setLevel(level)


class RequestIds:
    """WSGI middleware, outermost: sets the id for everything inside."""

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app
        self._pid: int | None = None

    def _new_id(self) -> str:
        # A random prefix per process and a counter: unique across workers
        # and hosts, and far cheaper than a uuid per request.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._prefix = os.urandom(8).hex()
            self._counter = itertools.count(1)
        return f"{self._prefix}{next(self._counter):08x}"

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        given = environ.get("HTTP_X_REQUEST_ID")
        rid = given if given and _SANE_ID.match(given) else self._new_id()
        environ["landdesk.request_id"] = rid
        token = request_id.set(rid)

        def start(status: str, headers: list, exc_info=None):
            headers.append(("X-Request-ID", rid))
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            request_id.reset(token)
