"""Slow side effects (mail) run after the response, in a background thread.

A booking should not wait for an SMTP server. ``in_background(db, fn)`` runs
``fn`` once the current unit of work has committed, on a per-process worker
thread inside its own application context (so with its own database session:
``fn`` must use ``get_db()``, never the caller's session or objects). With
``DEFERRED_TASKS = "inline"`` (the tests) it runs at once instead, after the
commit, which keeps tests deterministic.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy.orm import Session

from .db import on_commit

log = logging.getLogger(__name__)
_STOP = object()


class BackgroundWorker:
    def __init__(self, app: Flask):
        self.app = app
        self._queue: queue.Queue | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        if self.app.config["DEFERRED_TASKS"] == "inline":
            self._run(fn)
            return
        self._ensure_thread().put(fn)

    def _ensure_thread(self) -> queue.Queue:
        # Threads do not survive a fork (gunicorn --preload): start one per process.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue()
                    threading.Thread(
                        target=self._work, name="landdesk-background", daemon=True
                    ).start()
                    self._pid = os.getpid()
                    atexit.register(self.drain)
        return self._queue

    def _work(self) -> None:
        while True:
            fn = self._queue.get()
            try:
                if fn is _STOP:
                    return
                self._run(fn)
            finally:
                self._queue.task_done()

    def _run(self, fn: Callable[[], None]) -> None:
        with self.app.app_context():
            try:
                fn()
            except Exception:
                log.exception("background task failed")

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for queued work (process exit, tests)."""
        if self._queue is None or self._pid != os.getpid():
            return
        done = threading.Event()

        def _join():
            self._queue.join()
            done.set()

        threading.Thread(target=_join, daemon=True).start()
        done.wait(timeout)


def init_app(app: Flask) -> None:
    app.config.setdefault("DEFERRED_TASKS", "thread")
    app.extensions["landdesk_background"] = BackgroundWorker(app)


def in_background(db: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after the commit, off the request (see the module docstring)."""
    worker: BackgroundWorker = current_app.extensions["landdesk_background"]
    on_commit(db, lambda: worker.submit(fn))
