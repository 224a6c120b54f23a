"""Serve a Flask app over real HTTP on a free loopback port, in this process.

``LiveServer(app)`` runs werkzeug's threaded server in a background thread,
so a browser (or any HTTP client) talks to exactly the app object a test
configured: the same database, the same config, the fixtures' data. Each
request runs in its own thread with its own app context and database
session, as under a production server.

Usage::

    with LiveServer(app) as server:
        page.goto(server.url + "/login")

The socket is bound and listening when the constructor returns, so there is
no start-up race; ``stop()`` ends the loop, closes the socket and joins the
thread, and waits for the requests still running. Stop the server before
the app's database is emptied or disposed.
"""

from __future__ import annotations

import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr; errors still reach the app's logger."""

    # An idle keep-alive connection ends after this many seconds, so that
    # stop(), which waits for every request thread, cannot wait forever on
    # a client that left a connection open.
    timeout = 5

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """The app on ``http://127.0.0.1:<free port>`` until ``stop()``."""

    def __init__(self, app: Flask, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self._server: BaseWSGIServer = make_server(
            host, 0, app, threaded=True, request_handler=_QuietHandler
        )
        # Werkzeug runs request threads as daemons, which server_close() does
        # not wait for. A request still running after stop() (a page's late
        # subresource, say) would hand its database connection back to a pool
        # the test has disposed of: a connection closed only by the garbage
        # collector, as a ResourceWarning in some later test. Non-daemon
        # threads are joined by server_close().
        self._server.daemon_threads = False
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"live-server-{self.port}",
            daemon=True,
        )
        self._running = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveServer:
        if not self._running:
            self._thread.start()
            self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._running = False
        self._server.server_close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
