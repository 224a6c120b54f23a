"""flask --app booking jobs run|list, backup FILE, restore FILE [--force]."""

from __future__ import annotations

import signal
import sys
import threading

import click
from flask import Flask, current_app


def register_cli(app: Flask) -> None:
    @app.cli.group("jobs")
    def jobs_group():
        """Periodic jobs (replaces the cron commands; see docs/operations.md)."""

    @jobs_group.command("run")
    @click.option("--once", is_flag=True, help="Run what is due, then exit.")
    @click.option(
        "--tick",
        type=float,
        default=None,
        help="Seconds between looks at what is due (JOBS_TICK_S, default 10).",
    )
    def jobs_run(once: bool, tick: float | None):
        """Run every periodic job on its schedule, each once across all
        runners sharing the database. Stops after the job in hand on SIGTERM."""
        from ..db import get_database, get_db
        from .jobs import holder_name, run_due

        config = current_app.config
        database, db = get_database(), get_db()
        holder = holder_name()
        if once:
            outcomes = run_due(database, db, config, holder=holder)
            for outcome in outcomes:
                click.echo(
                    f"{outcome.job}: {outcome.outcome} ({outcome.duration_ms} ms) "
                    f"{outcome.message}"
                )
            failed = [o.job for o in outcomes if o.outcome == "failed"]
            if failed:
                click.echo(f"failed: {', '.join(failed)}", err=True)
                sys.exit(1)
            return
        tick = tick if tick is not None else float(config.get("JOBS_TICK_S", 10))
        stopping = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        click.echo(f"running jobs as {holder}, looking every {tick:g} s")
        try:
            while not stopping.is_set():
                run_due(database, db, config, holder=holder)
                stopping.wait(tick)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)

    @jobs_group.command("list")
    def jobs_list():
        """Each job's schedule and last outcome."""
        from ..db import get_db
        from .jobs import JOBS, job_states, periods

        schedule = periods(current_app.config)
        states = job_states(get_db())
        for job in JOBS:
            period = schedule[job.name]
            every = "off" if period is None else _human(period.total_seconds())
            state = states.get(job.name)
            if state is None or state.last_started_at is None:
                last = "never run"
            else:
                last = (
                    f"{state.last_outcome or 'running'} at "
                    f"{state.last_started_at:%Y-%m-%d %H:%M:%S}Z"
                    f" ({state.last_duration_ms or 0} ms) {state.last_message}"
                )
            click.echo(f"{job.name:20} every {every:6} {last}")

    @app.cli.command("backup")
    @click.argument("file", type=click.Path(dir_okay=False))
    def backup_command(file: str):
        """Write a backup of the whole database to FILE (SQLite: a copy by
        its online backup API; PostgreSQL: pg_dump custom format). Safe
        while the service runs."""
        from ..db import get_database
        from .backup import BackupError, backup

        try:
            backup(get_database(), file)
        except BackupError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Backup written to {file}.")

    @app.cli.command("restore")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--force", is_flag=True, help="Replace a database that holds data.")
    def restore_command(file: str, force: bool):
        """Replace the database's contents with the backup in FILE. Refuses
        a database that holds data unless --force. Stop the service first."""
        from ..db import get_database
        from .backup import BackupError, restore

        try:
            restore(get_database(), file, force=force)
        except BackupError as error:
            raise click.ClickException(str(error)) from None
        click.echo(
            f"Restored {file}. Run `flask --app booking db upgrade` if the "
            "backup is older than this version."
        )


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
