from tests.support.stripe_fixtures import (  # noqa: F401
    app_config,
    stripe_emulator,
    webhooks,
)
