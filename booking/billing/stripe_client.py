"""The one module that knows Stripe: every call the product makes goes here.

Calls are short (a few seconds at most, one network retry) so that a person
waiting on a page gets a clear answer; ``StripeUnavailable`` means "try again",
``StripeRejected`` means Stripe refused the request itself.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    import stripe

# Stripe signs "<t>.<body>"; the library refuses only old timestamps, so the
# future side is checked here as well.
SIGNATURE_TOLERANCE_S = 300


class StripeUnavailable(Exception):
    """Stripe could not be reached, timed out or failed on its side."""


class StripeRejected(Exception):
    """Stripe refused the request (bad parameters, unknown object, card error)."""


class InvalidSignature(Exception):
    pass


def _stripe():
    """The Stripe library, imported on the first call: it is 15 MB of every
    worker's memory, and a space without Stripe never calls it."""
    import stripe

    return stripe


def _client() -> stripe.StripeClient:
    stripe = _stripe()
    config = current_app.config
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        raise StripeUnavailable("STRIPE_SECRET_KEY is not configured")
    base = config.get("STRIPE_API_BASE") or "https://api.stripe.com"
    timeout = float(config.get("STRIPE_TIMEOUT_S", 4))
    return stripe.StripeClient(
        key,
        base_addresses={"api": base},
        max_network_retries=int(config.get("STRIPE_MAX_NETWORK_RETRIES", 1)),
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def _call(fn, *args, **kwargs) -> dict[str, Any]:
    stripe = _stripe()
    try:
        result = fn(*args, **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeUnavailable(str(error)) from error
    except stripe.StripeError as error:
        status = getattr(error, "http_status", None) or 500
        if status >= 500:
            raise StripeUnavailable(str(error)) from error
        raise StripeRejected(str(error.user_message or error)) from error
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def create_customer(
    *, email: str, name: str, metadata: dict[str, str], idempotency_key: str
) -> dict[str, Any]:
    return _call(
        _client().v1.customers.create,
        {"email": email, "name": name, "metadata": metadata},
        options={"idempotency_key": idempotency_key},
    )


def scrub_customer(customer_id: str) -> dict[str, Any]:
    """Remove name and e-mail from a customer (finalised invoices keep theirs)."""
    return _call(
        _client().v1.customers.update,
        customer_id,
        {"name": "", "email": ""},
    )


def create_checkout_session(
    params: dict[str, Any], *, idempotency_key: str
) -> dict[str, Any]:
    return _call(
        _client().v1.checkout.sessions.create,
        params,
        options={"idempotency_key": idempotency_key},
    )


def retrieve_checkout_session(session_id: str) -> dict[str, Any]:
    return _call(_client().v1.checkout.sessions.retrieve, session_id)


def expire_checkout_session(session_id: str) -> dict[str, Any]:
    return _call(_client().v1.checkout.sessions.expire, session_id)


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    return _call(_client().v1.payment_intents.retrieve, payment_intent_id)


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    return _call(_client().v1.subscriptions.retrieve, subscription_id)


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> dict:
    return _call(
        _client().v1.subscriptions.cancel,
        subscription_id,
        options={"idempotency_key": idempotency_key},
    )


def update_subscription(
    subscription_id: str, params: dict[str, Any], *, idempotency_key: str
) -> dict[str, Any]:
    return _call(
        _client().v1.subscriptions.update,
        subscription_id,
        params,
        options={"idempotency_key": idempotency_key},
    )


def create_price(params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
    return _call(
        _client().v1.prices.create,
        params,
        options={"idempotency_key": idempotency_key},
    )


def create_refund(
    *, payment_intent: str, amount_cents: int | None, idempotency_key: str
) -> dict[str, Any]:
    params: dict[str, Any] = {"payment_intent": payment_intent}
    if amount_cents is not None:
        params["amount"] = amount_cents
    return _call(
        _client().v1.refunds.create,
        params,
        options={"idempotency_key": idempotency_key},
    )


def create_portal_session(*, customer: str, return_url: str) -> dict[str, Any]:
    return _call(
        _client().v1.billing_portal.sessions.create,
        {"customer": customer, "return_url": return_url},
    )


def verify_event(payload: bytes, header: str, *, now: float | None = None) -> dict:
    """The event in a webhook body, if its ``Stripe-Signature`` is genuine.

    Raises InvalidSignature for a missing, malformed, wrong or stale signature
    (more than five minutes off either way).
    """
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret or not header:
        raise InvalidSignature("missing signature or secret")
    stamps = [part[2:] for part in header.split(",") if part.startswith("t=")]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        raise InvalidSignature("no timestamp")
    now = time.time() if now is None else now
    if abs(now - int(stamps[0])) > SIGNATURE_TOLERANCE_S:
        raise InvalidSignature("timestamp outside the tolerance")
    stripe = _stripe()
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), header, secret, SIGNATURE_TOLERANCE_S
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as error:
        raise InvalidSignature(str(error)) from error
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise InvalidSignature("body is not JSON") from error
    if not _is_event(event):
        raise InvalidSignature("not an event")
    return event


def _is_event(event: Any) -> bool:
    """The shape the handlers rely on: a signed body may still be malformed."""
    if not isinstance(event, dict):
        return False
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data", {})
    return (
        isinstance(event_id, str)
        and 0 < len(event_id) <= 255
        and isinstance(kind, str)
        and isinstance(data, dict)
        and isinstance(data.get("object", {}), dict)
    )
