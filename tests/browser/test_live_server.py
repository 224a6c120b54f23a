"""The browser tests' HTTP server lets a test end only when its requests have.

A request still running after the test (a page's late subresource) would give
its database connection back to a pool the test had already disposed of; the
connection was then closed by the garbage collector, failing some later test
with a ResourceWarning.
"""

from __future__ import annotations

import threading
import urllib.request

from flask import Flask

from tests.support.live_server import LiveServer


def test_stop_waits_for_a_request_still_running():
    started = threading.Event()
    release = threading.Event()
    finished = threading.Event()
    app = Flask(__name__)

    @app.get("/slow")
    def slow():
        started.set()
        release.wait(5)
        finished.set()
        return "done"

    server = LiveServer(app).start()
    client = threading.Thread(
        target=lambda: urllib.request.urlopen(server.url + "/slow", timeout=10).read()
    )
    client.start()
    assert started.wait(5), "the request never reached the app"
    # Let the request go on only once stop() is under way.
    threading.Timer(0.3, release.set).start()
    server.stop()
    assert finished.is_set(), "stop() returned while a request was still running"
    client.join(5)
