import pytest

from tests.support.smtp import mailbox, smtp_sink  # noqa: F401
from tests.support.stripe_fixtures import app_config as stripe_config  # noqa: F401
from tests.support.stripe_fixtures import stripe_emulator, webhooks  # noqa: F401


@pytest.fixture
def app_config(stripe_config, mailbox):  # noqa: F811
    """Stripe is the emulator; mail goes to a real SMTP server on loopback."""
    return {**stripe_config, "MAIL_URL": mailbox.url}
