"""Run the real app under gunicorn on a free loopback port.

``start_app_server(database_url)`` starts ``gunicorn "booking:create_app()"``
with several worker processes against a database that already has its
schema, waits until every worker answers, and returns an ``AppServer`` whose
``url`` the test (or a benchmark) talks to. ``stop()`` ends the master and
its workers; the log is kept for error messages.

Usage::

    server = start_app_server(url, workers=4)
    http.client.HTTPConnection(server.host, server.port)...
    server.worker_pids()       # for /proc/<pid>/status
    server.stop()

The app gets a fixed secret key and a low argon2 cost (fast logins), unless
``env`` says otherwise. The helper never skips: a server that does not come
up raises ``ServerError`` with the end of its log.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

BASE_ENV = {
    "LANDDESK_SECRET_KEY": "test-server-secret-not-for-production",
    "LANDDESK_ARGON2_TIME_COST": "1",
    "LANDDESK_ARGON2_MEMORY_COST": "1024",
    "LANDDESK_MAIL_URL": "console",
}


class ServerError(RuntimeError):
    """The app server could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AppServer:
    host: str
    port: int
    workers: int
    process: subprocess.Popen
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGTERM: gunicorn's graceful stop of master and workers.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _get(host: str, port: int, path: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def start_app_server(
    database_url: str,
    *,
    workers: int = 4,
    worker_class: str = "sync",
    threads: int = 1,
    env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    log_dir: str | os.PathLike | None = None,
    timeout: float = 30.0,
    app: str = "booking:create_app()",
) -> AppServer:
    """Start gunicorn serving ``app`` (by default ``booking:create_app()``)
    and wait until it is up.

    The app is loaded once in the master (``--preload``) and forked, so all
    workers take requests as soon as the first one does. Raises ServerError.
    """
    port = free_port()
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="landdesk-server-"))
    log_path = log_dir / f"gunicorn-{port}.log"
    log_file = open(log_path, "ab")  # closed by stop()
    process_env = {
        **os.environ,
        **BASE_ENV,
        **(env or {}),
        "LANDDESK_DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--preload",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        *(extra_args or []),
        app,
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=process_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = AppServer("127.0.0.1", port, workers, process, log_path, log_file)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            server.stop()
            raise ServerError(
                f"gunicorn exited with {process.returncode}:\n{server.log_tail()}"
            )
        if len(server.worker_pids()) >= workers:
            try:
                if _get(server.host, port, "/healthz") == 200:
                    return server
            except OSError:
                pass
        if time.monotonic() > deadline:
            server.stop()
            raise ServerError(f"gunicorn did not come up:\n{server.log_tail()}")
        time.sleep(0.05)
