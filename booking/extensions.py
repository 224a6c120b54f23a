"""Flask extensions, created unbound and initialised in create_app."""

from __future__ import annotations

import threading
import time

import flask_limiter
from flask import Flask, request
from flask_babel import Babel
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage


class SweptMemoryStorage(MemoryStorage):
    """``memory://`` without its timer thread (``landdesk-memory://``).

    limits' in-process storage starts a ``threading.Timer`` on a counter hit
    whenever the last one has run out, and the timer walks every key: under a
    steady stream of unlocks, a thread start and a walk of all members'
    counters every 10 ms in each worker. A counter that ran out is dropped
    when it is read anyway (``MemoryStorage.get``); here the walk that frees
    the memory of keys nobody reads again runs inline, at most once a second.
    Fixed windows only, the strategy this app uses (``RATELIMIT_STRATEGY``).
    """

    STORAGE_SCHEME = ["landdesk-memory"]
    SWEEP_S = 1.0

    def __init__(self, uri: str | None = None, **options) -> None:
        super().__init__(uri, **options)
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.get(key)  # an expired counter starts again
        self._sweep()
        with self.locks[key]:
            self.storage[key] += amount
            if self.storage[key] == amount:
                self.expirations[key] = time.time() + expiry
        return self.storage.get(key, 0)

    def _sweep(self) -> None:
        now = time.time()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_S
            for key, expires in list(self.expirations.items()):
                if expires <= now:
                    self.storage.pop(key, None)
                    self.expirations.pop(key, None)
                    self.locks.pop(key, None)
        finally:
            self._sweep_lock.release()


class _Marked:
    """A Flask-Limiter decorator that also marks the view it limits."""

    def __init__(self, decorator):
        self.decorator = decorator

    def __call__(self, view):
        limited = self.decorator(view)
        if limited is not None:  # a blueprint is limited in place
            # functools.wraps carries the mark out through login_required & co.
            limited.landdesk_rate_limited = True
        return limited


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, run only for the views that declare a limit.

    Its before_request hook evaluates default, application and blueprint
    limits (this app has none: ``default_limits=[]``, no blueprint limits;
    a view's own limit is checked by its decorator), its after_request hook
    writes the ``X-RateLimit-*`` headers of the limit a view checked, and its
    teardown hook resets that bookkeeping: on every other request they only
    cost time (a quarter of ``/healthz``, bench/README.md). ``init_app`` runs
    them for the marked views only, unless default or application limits
    are configured.
    """

    def limit(self, *args, **kwargs):
        return _Marked(super().limit(*args, **kwargs))

    def shared_limit(self, *args, **kwargs):
        return _Marked(super().shared_limit(*args, **kwargs))

    def init_app(self, app: Flask) -> None:
        if app.config.get("RATELIMIT_STORAGE_URI") == "memory://" and app.config.get(
            "RATELIMIT_STRATEGY", "fixed-window"
        ) in ("fixed-window", None):
            app.config["RATELIMIT_STORAGE_URI"] = "landdesk-memory://"
        before = list(app.before_request_funcs.get(None, ()))
        after = list(app.after_request_funcs.get(None, ()))
        teardown = list(app.teardown_request_funcs.get(None, ()))
        super().init_app(app)
        if app.config.get("RATELIMIT_DEFAULT") or app.config.get(
            "RATELIMIT_APPLICATION"
        ):
            return  # limits on every request: Flask-Limiter's hooks as they are
        hooks = (
            (app.before_request_funcs, before),
            (app.after_request_funcs, after),
            (app.teardown_request_funcs, teardown),
        )
        limited: set[str] = set()

        def for_limited_views(hook):
            def gated(*args):
                if not limited:
                    limited.update(
                        endpoint
                        for endpoint, view in app.view_functions.items()
                        if getattr(view, "landdesk_rate_limited", False)
                    )
                    limited.add("")  # computed
                if request.endpoint in limited:
                    return hook(*args)
                return args[0] if args else None

            return gated

        for registry, old in hooks:
            added = [f for f in registry.get(None, ()) if f not in old]
            registry[None] = old + [for_limited_views(f) for f in added]


login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# No default limits: limits are declared where they matter (unlock, password
# reset mails); failed logins have their own throttle (auth/throttle.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
