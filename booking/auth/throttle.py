"""Failed-login throttling, shared by the login form and POST /api/v1/auth/token.

As OWASP's authentication cheat sheet recommends: failures are counted per
account and client address together, so an attacker elsewhere does not slow
the owner down; a higher ceiling per account (from all addresses) and one per
client address (one address trying many accounts) catch distributed guessing
and spraying. Past a ceiling, every further failure makes the next attempt wait
a growing delay (1, 2, 4, ... seconds, capped) instead of locking the account,
so the owner is at most delayed. The wait is checked before the password, so
guesses during it prove nothing.

The counters live in the rate-limit storage (``RATELIMIT_STORAGE_URI``:
per process in memory, or Redis shared by every process). The client address
is ``request.remote_addr``, which ProxyFix takes from ``X-Forwarded-For`` only
through ``TRUSTED_PROXIES`` proxies (see create_app).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import current_app

from ..extensions import limiter


@dataclass(frozen=True)
class _Ceiling:
    scope: str
    key: str
    free_failures: int
    max_delay_s: int


def _ceilings(email: str, address: str) -> tuple[_Ceiling, ...]:
    config = current_app.config
    account = (email or "").strip().lower()
    return (
        _Ceiling(
            "account-address",
            f"{account}|{address}",
            config["LOGIN_FREE_FAILURES_PER_ACCOUNT_AND_ADDRESS"],
            config["LOGIN_MAX_DELAY_S"],
        ),
        _Ceiling(
            "account",
            account,
            config["LOGIN_FREE_FAILURES_PER_ACCOUNT"],
            config["LOGIN_MAX_SHARED_DELAY_S"],
        ),
        _Ceiling(
            "address",
            address,
            config["LOGIN_FREE_FAILURES_PER_ADDRESS"],
            config["LOGIN_MAX_SHARED_DELAY_S"],
        ),
    )


def _keys(ceiling: _Ceiling) -> tuple[str, str]:
    base = f"landdesk-login/{ceiling.scope}/{ceiling.key}"
    return base + "/failures", base + "/wait"


def login_wait_s(email: str, address: str) -> int:
    """Seconds until a login for this account from this address may be tried
    (0: now)."""
    storage = limiter.storage
    wait = 0.0
    for ceiling in _ceilings(email, address):
        _, wait_key = _keys(ceiling)
        if storage.get(wait_key):
            wait = max(wait, storage.get_expiry(wait_key) - time.time())
    return math.ceil(wait) if wait > 0 else 0


def record_failed_login(email: str, address: str) -> None:
    storage = limiter.storage
    window = current_app.config["LOGIN_FAILURE_WINDOW_S"]
    for ceiling in _ceilings(email, address):
        failures_key, wait_key = _keys(ceiling)
        failures = storage.incr(failures_key, window)
        beyond = failures - ceiling.free_failures
        if beyond > 0:
            delay = min(2 ** min(beyond - 1, 30), ceiling.max_delay_s)
            # A key's expiry is set when it is created: start it afresh.
            storage.clear(wait_key)
            storage.incr(wait_key, delay)


def record_login(email: str, address: str) -> None:
    """A successful login forgets the failures of this account and address."""
    storage = limiter.storage
    for key in _keys(_ceilings(email, address)[0]):
        storage.clear(key)
