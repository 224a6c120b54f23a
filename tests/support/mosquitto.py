"""A private Mosquitto broker for tests.

``start_broker(users, acl_path=...)`` writes a config, a password file and an
ACL into a fresh temporary directory, starts ``/usr/sbin/mosquitto`` on a free
loopback port and waits until it accepts connections. The broker keeps its
port and its persistence file across ``restart()``, so a test can simulate a
broker outage and still find retained messages and persistent sessions.

Usage::

    broker = start_broker({"landdesk": "pw", "7": "door-pw"},
                          acl_path=DEPLOY_ACL)
    client.connect(broker.host, broker.port)
    broker.stop()          # outage
    broker.start()         # back, same port
    broker.close()         # stop and delete the directory

The helper never skips: a missing binary raises ``BrokerError`` with a hint.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = os.environ.get("LANDDESK_MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = os.environ.get("LANDDESK_MOSQUITTO_PASSWD", "mosquitto_passwd")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_ACL = REPO_ROOT / "deploy" / "mosquitto" / "acl"


class BrokerError(RuntimeError):
    """The test broker could not be started."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(binary: str) -> str:
    found = shutil.which(binary) or (binary if os.access(binary, os.X_OK) else None)
    if not found:
        raise BrokerError(
            f"{binary} not found: install Mosquitto (Debian: apt-get install "
            "mosquitto mosquitto-clients) or set LANDDESK_MOSQUITTO"
        )
    return found


@dataclass
class Broker:
    """A running private broker; ``host``/``port`` are what clients connect to."""

    directory: Path
    port: int
    host: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """The broker's own log (log_dest file)."""
        return self.directory / "broker.log"

    @property
    def output_path(self) -> Path:
        """stdout/stderr of the process: start-up errors."""
        return self.directory / "mosquitto.out"

    def url(self, user: str, *, scheme: str = "mqtt") -> str:
        """``mqtt://user:password@host:port`` for a user added to this broker."""
        return f"{scheme}://{user}:{self.users[user]}@{self.host}:{self.port}"

    def add_user(self, name: str, password: str) -> None:
        """Add or change a user; a running broker reloads its password file."""
        _passwd(self.directory / "passwd", name, password)
        self.users[name] = password
        if self.running:
            self.process.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            time.sleep(0.2)

    def set_acl(self, acl_text: str) -> None:
        """Replace the ACL; a running broker reloads it."""
        (self.directory / "acl").write_text(acl_text)
        if self.running:
            self.process.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        log = open(self.output_path, "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [_find(MOSQUITTO), "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with {self.process.returncode}:\n"
                    + self.output_path.read_text(errors="replace")[-2000:]
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, it saves its persistence file)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the broker and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _passwd(path: Path, user: str, password: str) -> None:
    args = [_find(MOSQUITTO_PASSWD), "-b", str(path), user, password]
    if not path.exists():
        args.insert(1, "-c")
    subprocess.run(args, check=True, capture_output=True)


def start_broker(
    users: dict[str, str],
    acl_path: str | Path | None = None,
    acl_text: str | None = None,
    *,
    extra_config: str = "",
) -> Broker:
    """Start a private broker with these users and this ACL.

    Give the ACL as a file (``acl_path``, e.g. ``DEPLOY_ACL``) or as text; with
    neither, every user may read and write every topic. Raises ``BrokerError``
    if Mosquitto is missing or does not come up.
    """
    _find(MOSQUITTO)
    directory = Path(tempfile.mkdtemp(prefix="landdesk-mosquitto-"))
    # Started as root, mosquitto switches to the user named in `user`; naming
    # ourselves keeps the generated files readable without chown.
    directory.chmod(0o755)
    if acl_path is not None:
        acl_text = Path(acl_path).read_text()
    if acl_text is None:
        acl_text = "pattern readwrite #\n"
    (directory / "acl").write_text(acl_text)
    for name, password in users.items():
        _passwd(directory / "passwd", name, password)
    if not users:
        (directory / "passwd").write_text("")
    port = _free_port()
    (directory / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\n"
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {directory / 'passwd'}\n"
        f"acl_file {directory / 'acl'}\n"
        f"listener {port} 127.0.0.1\n"
        "set_tcp_nodelay true\n"
        "persistence true\n"
        f"persistence_location {directory}/\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        f"log_dest file {directory / 'broker.log'}\n"
        f"{extra_config}"
    )
    broker = Broker(directory=directory, port=port, users=dict(users))
    try:
        broker.start()
    except BaseException:
        broker.close()
        raise
    return broker
