import pytest

from booking import create_app

GOOD_SECRET = "a-random-secret-of-32-characters"


@pytest.fixture
def clean_environment(monkeypatch):
    """No LANDDESK_* variable of the shell running the tests leaks in."""
    import os

    for key in list(os.environ):
        if key.startswith("LANDDESK_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_missing_secret_is_refused(clean_environment, tmp_path):
    with pytest.raises(RuntimeError, match="LANDDESK_SECRET_KEY"):
        create_app(
            {"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite", "SECRET_KEY": None}
        )


def test_testing_in_the_environment_is_no_way_around_the_secret(
    clean_environment, tmp_path
):
    clean_environment.setenv("LANDDESK_TESTING", "true")
    clean_environment.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    with pytest.raises(RuntimeError, match="LANDDESK_TESTING"):
        create_app()
    clean_environment.setenv("LANDDESK_SECRET_KEY", GOOD_SECRET)
    with pytest.raises(RuntimeError, match="LANDDESK_TESTING"):
        create_app()


@pytest.mark.parametrize("secret", ["x", "from-env", GOOD_SECRET[:-1]])
def test_short_secret_is_refused(clean_environment, tmp_path, secret):
    clean_environment.setenv("LANDDESK_SECRET_KEY", secret)
    clean_environment.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    with pytest.raises(RuntimeError, match="at least 32 characters"):
        create_app()
    # not even when the test configuration says it is testing
    with pytest.raises(RuntimeError, match="at least 32 characters"):
        create_app({"TESTING": True})


def test_environment_with_prefix_configures_the_app(clean_environment, tmp_path):
    env = clean_environment
    env.setenv("LANDDESK_SECRET_KEY", GOOD_SECRET)
    env.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    env.setenv("LANDDESK_API_TOKEN_MAX_AGE_DAYS", "7")
    env.setenv("LANDDESK_UNLOCK_TIMEOUT_S", "2.5")
    env.setenv("LANDDESK_SESSION_COOKIE_SECURE", "true")
    env.setenv("LANDDESK_SESSION_COOKIE_HTTPONLY", "TRUE")
    env.setenv("LANDDESK_MQTT_PREFIX", "site-7")
    env.setenv("LANDDESK_MAIL_FROM", "123")
    env.setenv("STRIPE_API_BASE", "http://127.0.0.1:8420")
    env.setenv("LANDDESK_MAX_CONTENT_LENGTH", "2048")
    env.setenv("LANDDESK_TRUSTED_PROXIES", "1")
    app = create_app()
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["DATABASE_URL"].endswith("env.sqlite")
    assert app.config["API_TOKEN_MAX_AGE_DAYS"] == 7
    assert app.config["UNLOCK_TIMEOUT_S"] == 2.5
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["MQTT_PREFIX"] == "site-7"
    assert app.config["MAIL_FROM"] == "123"
    assert app.config["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert app.config["MAX_CONTENT_LENGTH"] == 2048
    assert app.config["TRUSTED_PROXIES"] == 1


def test_a_secret_of_digits_stays_text(clean_environment, tmp_path):
    clean_environment.setenv("LANDDESK_SECRET_KEY", "9" * 40)
    clean_environment.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    assert create_app().config["SECRET_KEY"] == "9" * 40


def test_instance_config_file_comes_before_the_environment(clean_environment, tmp_path):
    from flask import Flask

    from booking.config import load_config

    (tmp_path / "config.py").write_text(
        f"SECRET_KEY = {GOOD_SECRET!r}\nMIN_PASSWORD_LENGTH = 12\nMAIL_FROM = 'file'\n"
    )
    clean_environment.setenv("LANDDESK_MAIL_FROM", "env")
    app = Flask("x", instance_path=str(tmp_path), instance_relative_config=True)
    load_config(app, None)
    assert app.config["SECRET_KEY"] == GOOD_SECRET
    assert app.config["MIN_PASSWORD_LENGTH"] == 12
    assert app.config["MAIL_FROM"] == "env"


def test_a_setting_of_the_wrong_type_is_refused(clean_environment, tmp_path):
    clean_environment.setenv("LANDDESK_SECRET_KEY", GOOD_SECRET)
    clean_environment.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    clean_environment.setenv("LANDDESK_API_TOKEN_MAX_AGE_DAYS", "ninety")
    with pytest.raises(RuntimeError, match="LANDDESK_API_TOKEN_MAX_AGE_DAYS"):
        create_app()


@pytest.mark.parametrize("url", ["", "landdesk.example.org", "ftp://x.example"])
def test_public_url_must_be_an_http_address(clean_environment, tmp_path, url):
    clean_environment.setenv("LANDDESK_SECRET_KEY", GOOD_SECRET)
    clean_environment.setenv("LANDDESK_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite")
    clean_environment.setenv("LANDDESK_PUBLIC_URL", url)
    with pytest.raises(RuntimeError, match="LANDDESK_PUBLIC_URL"):
        create_app()


def test_default_database_is_sqlite_in_instance_folder(clean_environment):
    clean_environment.setenv("LANDDESK_SECRET_KEY", GOOD_SECRET)
    app = create_app()
    assert (
        app.config["DATABASE_URL"] == f"sqlite:///{app.instance_path}/landdesk.sqlite"
    )
