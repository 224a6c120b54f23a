"""Commands for cron: reminders, no-show release, calendar imports, door log.

Each is safe to run repeatedly (see the services they call).
"""

from __future__ import annotations

import click
from flask import Flask


def register_cron_commands(app: Flask) -> None:
    @app.cli.command("send-reminders")
    def send_reminders_command():
        """Mail tomorrow's bookings and renewals due soon (each mail once)."""
        from .db import get_db
        from .notifications.services import remind_renewals, send_reminders

        click.echo(f"Sent {send_reminders(get_db())} reminder(s).")
        click.echo(f"Sent {remind_renewals(get_db())} renewal notice(s).")

    @app.cli.command("release-unchecked")
    def release_unchecked_command():
        """Release today's flex bookings nobody checked in for in time."""
        from .checkin.services import release_unchecked
        from .db import get_db

        released = release_unchecked(get_db())
        click.echo(f"Released {len(released)} booking(s).")

    @app.cli.command("import-calendars")
    def import_calendars_command():
        """Re-import every external calendar that blocks a room."""
        from .calendars.services import refresh_all_imports
        from .db import get_db

        for import_id, outcome in refresh_all_imports(get_db()).items():
            click.echo(f"calendar {import_id}: {outcome}")

    @app.cli.command("anonymise-door-log")
    def anonymise_door_log_command():
        """Strip people from door-log entries older than the retention period."""
        from .db import get_db
        from .privacy.services import anonymise_door_log

        click.echo(f"Anonymised {anonymise_door_log(get_db())} door-log entries.")
