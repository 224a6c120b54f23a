import pytest

from booking import create_app


def test_missing_secret_is_refused_outside_tests(monkeypatch, tmp_path):
    monkeypatch.delenv("LANDDESK_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="LANDDESK_SECRET_KEY"):
        create_app(
            {"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite", "SECRET_KEY": None}
        )


def test_default_secret_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="LANDDESK_SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite"})


def test_environment_with_prefix_configures_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("LANDDESK_SECRET_KEY", "from-env")
    monkeypatch.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    monkeypatch.setenv("LANDDESK_API_TOKEN_MAX_AGE_DAYS", "7")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["DATABASE_URL"].endswith("env.sqlite")
    assert app.config["API_TOKEN_MAX_AGE_DAYS"] == 7


def test_default_database_is_sqlite_in_instance_folder(monkeypatch):
    monkeypatch.setenv("LANDDESK_SECRET_KEY", "x")
    monkeypatch.delenv("LANDDESK_DATABASE_URL", raising=False)
    app = create_app()
    assert (
        app.config["DATABASE_URL"] == f"sqlite:///{app.instance_path}/landdesk.sqlite"
    )
