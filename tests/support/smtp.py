"""A real SMTP server on loopback (aiosmtpd) that keeps the mails it receives.

Fixtures: ``smtp_sink`` (one server per test session) and ``mailbox`` (the
same server, emptied for the test). A test module points the app at it by
overriding ``app_config``::

    @pytest.fixture
    def app_config(app_config, mailbox):
        return {**app_config, "MAIL_URL": mailbox.url}
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd)
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def wait(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """At least ``count`` messages, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mailbox(smtp_sink) -> SmtpSink:
    smtp_sink.clear()
    return smtp_sink


def calendar_part(message: EmailMessage):
    """The text/calendar part of a mail, or None."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part
    return None
