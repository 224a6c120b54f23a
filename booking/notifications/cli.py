"""flask --app booking notifications deliver [--loop]: the mail worker."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import click
from flask import Flask
from sqlalchemy.orm import Session


def register_cli(app: Flask) -> None:
    @app.cli.group("notifications")
    def notifications_group():
        """Booking mails (see MAIL_DELIVERY)."""

    @notifications_group.command("deliver")
    @click.option("--loop", is_flag=True, help="Keep polling until stopped.")
    @click.option(
        "--interval",
        default=2.0,
        show_default=True,
        help="Seconds between polls when nothing is due.",
    )
    @click.option("--batch", default=100, show_default=True)
    def deliver_command(loop: bool, interval: float, batch: int):
        """Send the mails that are due: booking confirmations and cancellations,
        and every queued mail (resets, invitations, alerts, reminders), with retries.

        With MAIL_DELIVERY=worker this is the only sender: run it with --loop
        as a service of its own. Several may run at once; each mail goes once.
        """
        from ..db import get_db

        stopping = False

        def _stop(_signum, _frame):
            nonlocal stopping
            stopping = True  # finish the batch in hand, then leave

        previous = signal.signal(signal.SIGTERM, _stop)
        db = get_db()
        try:
            total = _run(db, loop, interval, batch, lambda: stopping)
        finally:
            signal.signal(signal.SIGTERM, previous)
        click.echo(f"Handled {total} booking(s) and queued mail(s) with mail due.")


def _run(
    db: Session, loop: bool, interval: float, batch: int, stopping: Callable[[], bool]
) -> int:
    from .services import deliver_due_mails

    total = 0
    while True:
        handled, failed = deliver_due_mails(db, limit=batch)
        total += handled
        db.close()  # no read transaction (or snapshot) held while idle
        caught_up = handled < batch or failed
        if stopping() or (caught_up and not loop):
            return total
        if caught_up:
            time.sleep(interval)
