"""flask --app booking <command>: database, demo data, accounts."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app

from . import ROOT

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


# Alembic is imported by the commands that use it, not by create_app: a web
# worker never migrates, and the library is 12 MB of its memory.


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig(os.path.join(ROOT, "migrations", "alembic.ini"))
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    config.attributes["database_url"] = current_app.config["DATABASE_URL"]
    return config


def _alembic_command():
    from alembic import command

    return command


def upgrade_database(revision: str = "heads") -> None:
    _alembic_command().upgrade(alembic_config(), revision)


def register_cli(app: Flask) -> None:
    from .cron import register_cron_commands
    from .notifications.cli import register_cli as register_notifications_cli
    from .ops.cli import register_cli as register_ops_cli

    register_cron_commands(app)
    register_notifications_cli(app)
    register_ops_cli(app)

    @app.cli.group("db")
    def db_group():
        """Schema migrations (Alembic, in migrations/)."""

    @db_group.command("upgrade")
    @click.argument("revision", default="heads")
    def db_upgrade(revision):
        """Bring the database to the newest schema."""
        upgrade_database(revision)

    @db_group.command("downgrade")
    @click.argument("revision")
    def db_downgrade(revision):
        _alembic_command().downgrade(alembic_config(), revision)

    @db_group.command("current")
    def db_current():
        _alembic_command().current(alembic_config(), verbose=True)

    @db_group.command("revision")
    @click.option("-m", "--message", required=True)
    @click.option("--autogenerate", is_flag=True)
    def db_revision(message, autogenerate):
        """Draft a migration; review it before committing."""
        _alembic_command().revision(
            alembic_config(), message=message, autogenerate=autogenerate
        )

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--name", default="")
    @click.option(
        "--role", type=click.Choice(["member", "operator", "admin"]), default="member"
    )
    def create_user_command(email, password, name, role):
        """Create an account."""
        from .auth.models import Role
        from .auth.services import create_user
        from .db import get_db
        from .errors import DomainError

        try:
            user = create_user(
                get_db(), email=email, password=password, name=name, role=Role(role)
            )
        except DomainError as error:
            click.echo(f"Error: {error.message}", err=True)
            sys.exit(2)
        click.echo(f"Created {user.role} {user.email} (id {user.id}).")

    @app.cli.command("demo")
    @click.option("--password", default=None, help="password for every demo account")
    def demo_command(password):
        """Fill an empty database with a demo network of three village spaces."""
        from .db import get_db
        from .demo import create_demo

        try:
            logins = create_demo(get_db(), password=password)
        except RuntimeError as error:
            click.echo(str(error))
            return
        click.echo("Demo network created. Logins:")
        for role, email, pw in logins:
            click.echo(f"  {role:9} {email:32} {pw}")
