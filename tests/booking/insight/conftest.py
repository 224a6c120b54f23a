import pytest

from tests.support.smtp import mailbox, smtp_sink  # noqa: F401


@pytest.fixture
def app_config(app_config, mailbox):  # noqa: F811
    """Every mail of these tests goes to a real SMTP server on loopback."""
    return {**app_config, "MAIL_URL": mailbox.url}
