"""Fetching an external calendar without letting its URL reach our own network.

An operator names the URL, so it is untrusted: it could point at the database,
the broker or a cloud metadata service (server-side request forgery). The name
is resolved once, every address it resolves to is checked, and the connection
goes to the checked address (with the name in the Host header and for TLS), so
a second DNS answer cannot swap in another address. Redirects are followed by
hand and each hop is checked the same way. Size and total time are capped, and
no error repeats what the server sent.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from flask_babel import lazy_gettext as _l

from ..errors import InvalidInput
from ..validation import is_digits

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_S = 10.0
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_allowed(address: Address, *, allow_private: bool = False) -> bool:
    """May the service connect to this address?

    Only public addresses by default. ``allow_private`` (an intranet calendar)
    adds private and loopback networks; link-local (cloud metadata), multicast,
    unspecified and reserved addresses stay refused.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_multicast or address.is_unspecified or address.is_link_local:
        return False
    if address.is_loopback:  # ::1 counts as reserved too
        return allow_private
    if address.is_reserved:
        return False
    if address.is_global:
        return True
    return allow_private and (address.is_private or address.is_loopback)


def _failed(reason=None) -> InvalidInput:
    return InvalidInput(reason or _l("The calendar could not be loaded."), field="url")


def _resolve(host: str, port: int, allowed: Callable[[Address], bool]) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _failed(_l("The calendar's server name is unknown.")) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Every answer must pass, or a name could mix a public and an internal one.
    if not addresses or not all(allowed(a) for a in addresses):
        raise _failed(_l("Calendars can only be loaded from public addresses."))
    return str(addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    """Talks HTTP to ``pinned_address`` while naming ``host`` in the request."""

    def __init__(self, host: str, port: int, *, pinned_address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.pinned_address = pinned_address

    def connect(self) -> None:
        self.sock = self.pinned_socket = socket.create_connection(
            (self.pinned_address, self.port), self.timeout
        )


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to ``pinned_address``; SNI and certificate checked against ``host``."""

    def __init__(self, host: str, port: int, *, pinned_address: str, timeout: float):
        self.tls_context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls_context)
        self.pinned_address = pinned_address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        self.sock = self.pinned_socket = self.tls_context.wrap_socket(
            sock, server_hostname=self.host
        )


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _failed(_l("The calendar took too long to load."))
    return left


def _get_once(url: str, allowed, deadline: float):
    """One GET; returns (status, location, body). Raises InvalidInput."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _failed(_l("The calendar address starts with https://."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _failed() from None
    address = _resolve(parts.hostname, port, allowed)
    connection_class = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = connection_class(
        parts.hostname, port, pinned_address=address, timeout=_remaining(deadline)
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request(
            "GET", path, headers={"User-Agent": "Landdesk", "Accept": "text/calendar"}
        )
        response = connection.getresponse()
        if response.status in _REDIRECTS:
            return response.status, response.getheader("Location"), b""
        if response.status != 200:
            return response.status, None, b""
        length = response.getheader("Content-Length", "")
        if is_digits(length) and int(length) > MAX_BYTES:
            raise _failed(_l("The calendar file is too large."))
        chunks, size = [], 0
        while True:
            # The socket stays ours even after http.client lets go of it.
            connection.pinned_socket.settimeout(_remaining(deadline))
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BYTES:
                raise _failed(_l("The calendar file is too large."))
            chunks.append(chunk)
        return response.status, None, b"".join(chunks)
    except (OSError, http.client.HTTPException, ValueError):
        # The reason (refused, reset, timed out) would tell a scanner which
        # ports are open, and a server's words are not ours to repeat.
        raise _failed() from None
    finally:
        connection.close()


def fetch_calendar(
    url: str,
    *,
    allow_private: bool = False,
    allowed: Callable[[Address], bool] | None = None,
    timeout: float = TIMEOUT_S,
) -> bytes:
    """GET ``url``, following up to five redirects, each to an allowed address.

    ``allowed`` replaces the address policy (``address_allowed``). Raises
    InvalidInput with a message that never quotes the server.
    """
    if allowed is None:

        def allowed(address: Address) -> bool:
            return address_allowed(address, allow_private=allow_private)

    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        status, location, body = _get_once(url, allowed, deadline)
        if status == 200:
            return body
        if location is None:
            raise _failed(
                _l("The calendar could not be loaded (HTTP %(status)d).", status=status)
            )
        url = urljoin(url, location)
    raise _failed(_l("The calendar address redirects too often."))
