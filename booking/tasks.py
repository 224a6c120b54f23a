"""A per-process background thread that runs one job whenever it is woken.

The web process uses it for booking mails when ``MAIL_DELIVERY = "thread"``
(the default, for the demo; see ``notifications.services``): a commit that
leaves mail due wakes the job, and the job delivers everything due in its own
application context, so with its own database session (the job must use
``get_db()``, never the caller's session or objects). Wakes that arrive while
the job runs coalesce into one more run, so a burst of bookings costs a few
runs, not one per booking. The request never waits for the job.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)
_jobs_lock = threading.Lock()


class BackgroundJob:
    def __init__(self, app: Flask, name: str, run: Callable[[], None]):
        self.app = app
        self.name = name
        self._run = run
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pending = False
        self._running = False

    def wake(self) -> None:
        """Run the job soon (again, if it is running now)."""
        self._ensure_thread()
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the job is idle with nothing pending (process exit, tests)."""
        if self._pid != os.getpid():
            return True
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._running, timeout
            )

    def _ensure_thread(self) -> None:
        # Threads do not survive a fork (gunicorn --preload): one per process.
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._cond = threading.Condition()
            self._pending = self._running = False
            threading.Thread(target=self._loop, name=self.name, daemon=True).start()
            self._pid = os.getpid()
            atexit.register(self.drain)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending)
                self._pending = False
                self._running = True
            try:
                with self.app.app_context():
                    self._run()
            except Exception:
                log.exception("background job %s failed", self.name)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()


def init_app(app: Flask) -> None:
    app.extensions["landdesk_background"] = {}


def background_job(app: Flask, name: str, run: Callable[[], None]) -> BackgroundJob:
    """The app's job called ``name`` (created on first use)."""
    jobs: dict[str, BackgroundJob] = app.extensions["landdesk_background"]
    job = jobs.get(name)
    if job is None:
        with _jobs_lock:
            job = jobs.setdefault(name, BackgroundJob(app, name, run))
    return job
