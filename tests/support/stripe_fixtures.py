"""Fixtures for tests that talk to Stripe: a running emulator, an app
configured for it, and delivery of its signed webhook events."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import pytest
import stripe

from .stripe_emulator import StripeEmulator

WEBHOOK_SECRET = "whsec_landdesk_test"


@pytest.fixture(scope="session")
def stripe_emulator():
    emulator = StripeEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def app_config(app_config, stripe_emulator):
    return {
        **app_config,
        "STRIPE_SECRET_KEY": "sk_test_landdesk",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_emulator.url,
        # Row ids restart in every test; Stripe keeps keys for 24 hours.
        "STRIPE_IDEMPOTENCY_PREFIX": f"test-{uuid.uuid4().hex[:12]}",
    }


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp=None) -> str:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode(), secret, timestamp=timestamp
    )


class Webhooks:
    """Posts the emulator's events to the app as Stripe would, signed."""

    def __init__(self, emulator: StripeEmulator, client):
        self.emulator = emulator
        self.client = client
        self.delivered = {event["id"] for event in emulator.events()}

    def pending(self, *types: str) -> list[dict]:
        events = [e for e in self.emulator.events() if e["id"] not in self.delivered]
        return [e for e in events if not types or e["type"] in types]

    def post(self, event: dict, **sign_options):
        payload = json.dumps(event).encode()
        self.delivered.add(event["id"])
        return self.client.post(
            "/stripe/webhook",
            data=payload,
            headers={
                "Stripe-Signature": sign(payload, **sign_options),
                "Content-Type": "application/json",
            },
        )

    def deliver(self, *types: str) -> list:
        responses = [self.post(event) for event in self.pending(*types)]
        assert all(r.status_code == 200 for r in responses), [
            r.get_json() for r in responses
        ]
        return responses


@pytest.fixture
def webhooks(stripe_emulator, app):
    return Webhooks(stripe_emulator, app.test_client())


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)
