"""The schema lives in the Alembic migrations; the models must agree with them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from booking.db import Base


def test_models_and_migrations_agree(app, database_url):
    import booking.models  # noqa: F401

    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_upgrade_builds_an_empty_database_and_downgrade_removes_it(tmp_path):
    from alembic import command

    from booking import create_app
    from booking.cli import alembic_config, upgrade_database

    url = f"sqlite:///{tmp_path}/fresh.sqlite"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-not-for-production-use-0123",
            "DATABASE_URL": url,
        }
    )
    with app.app_context():
        upgrade_database()
        engine = create_engine(url)
        tables = set(inspect(engine).get_table_names())
        assert {
            "users",
            "locations",
            "resources",
            "bookings",
            "booking_slots",
        } <= tables
        command.downgrade(alembic_config(), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_database()
        assert "bookings" in inspect(engine).get_table_names()
        engine.dispose()


def test_cli_db_upgrade_and_demo(tmp_path):
    from booking import create_app

    url = f"sqlite:///{tmp_path}/cli.sqlite"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-not-for-production-use-0123",
            "DATABASE_URL": url,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "BABEL_DEFAULT_LOCALE": "en",
        }
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "betrieb@example.org" in result.output and "landdesk-demo" in result.output
    again = runner.invoke(args=["demo"])
    assert "already" in again.output
    with app.app_context():
        from booking.db import get_db
        from booking.spaces.models import Location

        assert get_db().query(Location).count() == 3
    bad = runner.invoke(
        args=["create-user", "--email", "nope", "--password", "secret-123"]
    )
    assert bad.exit_code == 2 and "valid e-mail" in bad.output
    good = runner.invoke(
        args=[
            "create-user",
            "--email",
            "op@example.org",
            "--password",
            "secret-123",
            "--role",
            "operator",
        ]
    )
    assert good.exit_code == 0 and "operator" in good.output
    bad_role = runner.invoke(
        args=[
            "create-user",
            "--email",
            "x@example.org",
            "--password",
            "secret-123",
            "--role",
            "king",
        ]
    )
    assert bad_role.exit_code == 2


def test_migrations_have_a_single_head(app):
    from alembic.script import ScriptDirectory

    from booking.cli import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"merge the migration branches: {heads}"
