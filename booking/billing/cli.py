"""flask --app booking billing reconcile | expire-holds: safe to run from cron."""

from __future__ import annotations

import click
from flask import Flask


def register_cli(app: Flask) -> None:
    @app.cli.group("billing")
    def billing_group():
        """Stripe billing maintenance."""

    @billing_group.command("reconcile")
    def reconcile_command():
        """Repair what lost webhooks left behind (pending payments, refunds,
        subscriptions) and release expired holds."""
        from ..db import get_db
        from .services import reconcile

        counts = reconcile(get_db())
        click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))

    @app.cli.command("expire-holds")
    def expire_holds_command():
        """Release bookings whose 15-minute payment hold ran out."""
        from ..db import get_db
        from .services import expire_holds

        click.echo(f"released={expire_holds(get_db())}")
