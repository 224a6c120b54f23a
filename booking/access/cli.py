"""flask --app booking doors ...: the door listener and the demo's broker setup."""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import signal
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from .. import ROOT
from ..db import get_db
from .link import get_link, stop_link
from .pins import RevocationSweeper
from .services import demo_controller_secrets

log = logging.getLogger(__name__)


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def register_cli(app: Flask) -> None:
    @app.cli.group("doors")
    def doors_group():
        """Door access over MQTT."""

    @doors_group.command("listen")
    @click.option(
        "--client-id",
        default="landdesk-listener",
        show_default=True,
        help="MQTT client id of the persistent session (one listener per id)",
    )
    @click.option(
        "--session-expiry",
        type=int,
        default=86400,
        show_default=True,
        help="seconds the broker keeps events for a stopped listener (0: none)",
    )
    def listen(client_id: str, session_expiry: int):
        """Stay connected and store door state and events (no web requests
        needed), and withdraw offline PINs that no longer open anything, on
        every door (every PIN_SWEEP_S seconds). Runs until SIGTERM or Ctrl-C.
        A persistent MQTT session: the broker keeps the events published
        while it is down."""
        link = get_link(
            current_app._get_current_object(),
            client_id=client_id,
            session_expiry_s=session_expiry,
        )
        if link is None:
            raise click.ClickException("LANDDESK_MQTT_URL is not set.")
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        click.echo(f"listening to {link.url.host}:{link.url.port}")
        sweeper = RevocationSweeper(current_app._get_current_object())
        interval = float(current_app.config.get("PIN_SWEEP_S", 5))
        try:
            while not done.wait(interval):
                try:
                    sweeper.run_once(get_db())
                except SQLAlchemyError:
                    log.exception("PIN revocation sweep failed")
                    get_db().rollback()
        except KeyboardInterrupt:
            pass
        stop_link(current_app._get_current_object())

    @doors_group.command("demo-config")
    @click.argument("directory", type=click.Path(file_okay=False))
    @click.option("--port", type=int, required=True, help="the demo broker's port")
    def demo_config(directory: str, port: int):
        """Write a private Mosquitto configuration (its password file, plain
        ``user:password`` lines, also serves the embedded demo broker) and one
        controller configuration per Landdesk door into DIRECTORY, with fresh
        passwords; print the service's MQTT URL."""
        out = Path(directory).resolve()
        out.mkdir(parents=True, exist_ok=True)
        service_pw = secrets.token_hex(12)
        users = [f"landdesk:{service_pw}"]
        doors = demo_controller_secrets(get_db())
        prefix = current_app.config.get("MQTT_PREFIX", "landdesk")
        for door, secret in doors:
            password = secrets.token_hex(12)
            users.append(f"{door.mqtt_id}:{password}")
            _write(
                out / f"door-{door.id}.toml",
                "# Simulated reference controller for the demo "
                f"({door.location.name}: {door.name})\n"
                "[mqtt]\n"
                f'url = "mqtt://{door.mqtt_id}:{password}@127.0.0.1:{port}"\n'
                f'prefix = "{prefix}"\n'
                "keepalive = 5\n\n"
                "[door]\n"
                f'id = "{door.mqtt_id}"\n'
                f'secret = "{secret}"\n'
                f"open_s = {min(door.open_s, 15)}\n"
                'relay = "simulated"\n'
                f'state_file = "{out / f"door-{door.id}.state.json"}"\n\n'
                "[keypad]\n"
                'kind = "fifo"\n'
                f'path = "{out / f"door-{door.id}.keypad"}"\n',
            )
        _write(out / "passwd", "\n".join(users) + "\n")
        acl = Path(ROOT) / "deploy" / "mosquitto" / "acl"
        _write(
            out / "mosquitto.conf",
            # Started as root, Mosquitto would switch to "mosquitto", which
            # cannot read these files.
            f"user {getpass.getuser()}\n"
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {out / 'passwd'}\n"
            f"acl_file {acl}\n"
            f"listener {port} 127.0.0.1\n"
            "set_tcp_nodelay true\n"
            "persistence false\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\n",
            0o644,
        )
        (out / "doors.txt").write_text("".join(f"{door.id}\n" for door, _ in doors))
        click.echo(f"mqtt://landdesk:{service_pw}@127.0.0.1:{port}")
