"""localstripe plus the parts of Stripe it lacks, for the billing tests.

Run as ``python -m tests.support.stripe_emulator --port N``. It serves
localstripe 1.15's aiohttp app unchanged and registers, next to it:

- Checkout Sessions (``/v1/checkout/sessions``: create, retrieve, list,
  expire) with a hosted page and a test-only "the customer pays" action
  (``POST /_test/checkout/{id}/pay``) that pays through localstripe's own
  payment intents or subscriptions and emits ``checkout.session.*`` events;
- ``Idempotency-Key`` replay (localstripe ignores the header);
- ``/_test/events``: every event in the order it was created, so a test
  can deliver, repeat or reorder them;
- ``/_test/subscriptions/{id}/renew``: bill the next period now and emit
  ``invoice.paid`` / ``invoice.payment_failed`` and
  ``customer.subscription.updated`` as Stripe does;
- ``invoice.billing_reason`` (``subscription_create`` / ``subscription_cycle``),
  which localstripe leaves empty;
- recurring Prices (``POST /v1/prices``, stored as localstripe plans) and
  subscription updates in today's parameters (``items[].price``,
  ``proration_behavior``), emitting ``customer.subscription.updated``;
- the customer portal (``POST /v1/billing_portal/sessions``) with a page.

``StripeEmulator`` starts it as a subprocess on a free port for fixtures.
Only the emulator is extended here: neither the code under test nor the
``stripe`` library is patched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_app(public_url: str):
    from aiohttp import web
    from localstripe import resources, server
    from localstripe.errors import UserError
    from localstripe.resources import (
        Customer,
        Event,
        PaymentIntent,
        PaymentMethod,
        Plan,
        StripeObject,
        Subscription,
        store,
    )
    from localstripe.webhooks import schedule_webhook

    app = server.app

    # Stripe says why an invoice exists; localstripe leaves it empty.
    create_invoice = Subscription._create_invoice

    def _create_invoice_with_reason(sub):
        reason = (
            "subscription_create"
            if sub.latest_invoice is None
            else ("subscription_cycle")
        )
        init = resources.Invoice.__init__

        def init_with_reason(invoice, *args, **kwargs):
            init(invoice, *args, **kwargs)
            invoice.billing_reason = reason

        resources.Invoice.__init__ = init_with_reason
        try:
            create_invoice(sub)
        finally:
            resources.Invoice.__init__ = init

    Subscription._create_invoice = _create_invoice_with_reason
    # Keep the emulator's state in memory: localstripe pickles it to a fixed
    # /tmp path after every write, which parallel test runs would share.
    store.dump_to_disk = lambda: None

    class CheckoutSession(StripeObject):
        object = "checkout.session"
        _id_prefix = "cs_test_"

        def __init__(
            self,
            mode=None,
            line_items=None,
            customer=None,
            client_reference_id=None,
            metadata=None,
            success_url=None,
            cancel_url=None,
            expires_at=None,
            payment_intent_data=None,
            subscription_data=None,
            invoice_creation=None,
            payment_method_types=None,
            **kwargs,
        ):
            if kwargs:
                raise UserError(400, "Unexpected " + ", ".join(kwargs))
            if mode not in ("payment", "subscription") or not line_items:
                raise UserError(400, "mode and line_items are required")
            if not success_url or not customer:
                raise UserError(400, "success_url and customer are required")
            Customer._api_retrieve(customer)
            expires_at = int(expires_at) if expires_at else int(time.time()) + 86400
            if expires_at < int(time.time()) + 30 * 60:
                raise UserError(400, "expires_at must be at least 30 minutes away")
            super().__init__()
            self.mode = mode
            self.customer = customer
            self.client_reference_id = client_reference_id
            self.metadata = metadata or {}
            self.success_url = success_url
            self.cancel_url = cancel_url
            self.expires_at = expires_at
            self.status = "open"
            self.payment_status = "unpaid"
            self.payment_intent = None
            self.subscription = None
            self.invoice = None
            self.url = f"{public_url}/checkout/{self.id}"
            self._line_items = line_items
            self._intent_metadata = (payment_intent_data or {}).get("metadata") or {}
            self._subscription_metadata = (subscription_data or {}).get(
                "metadata"
            ) or {}
            self.payment_method_types = payment_method_types or ["card"]
            price = line_items[0]["price_data"]
            self.currency = price["currency"]
            self.amount_total = sum(
                int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
                for item in line_items
            )

    def _find(session_id: str) -> CheckoutSession:
        return CheckoutSession._api_retrieve(session_id)

    async def create_session(request):
        data = await server.get_post_data(request) or {}
        return server.json_response(CheckoutSession(**data)._export())

    async def retrieve_session(request):
        return server.json_response(_find(request.match_info["id"])._export())

    async def expire_session(request):
        session = _find(request.match_info["id"])
        if session.status != "open":
            raise UserError(400, "Only open sessions can be expired")
        session.status = "expired"
        schedule_webhook(Event("checkout.session.expired", session))
        return server.json_response(session._export())

    async def list_sessions(request):
        items = [
            v._export() for k, v in store.items() if k.startswith("checkout.session:")
        ]
        return server.json_response(
            {"object": "list", "data": items, "has_more": False}
        )

    def _card(number: str) -> PaymentMethod:
        return PaymentMethod(
            type="card",
            card={
                "number": number,
                "exp_month": "12",
                "exp_year": "2040",
                "cvc": "123",
            },
        )

    async def pay_session(request):
        """The customer pays on the hosted page (test-only)."""
        session = _find(request.match_info["id"])
        data = await server.get_post_data(request) or {}
        if session.status != "open":
            raise UserError(400, "This session is " + session.status)
        pm = _card(data.get("card") or "4242424242424242")
        if session.mode == "payment":
            intent = PaymentIntent(
                amount=session.amount_total,
                currency=session.currency,
                customer=session.customer,
                payment_method=pm.id,
                metadata=dict(session._intent_metadata),
            )
            session.payment_intent = intent.id
            intent._confirm(
                on_failure_now=lambda: schedule_webhook(
                    Event("payment_intent.payment_failed", intent)
                )
            )
            if intent.status != "succeeded":
                return server.json_response(session._export(), status=402)
        else:
            PaymentMethod._api_attach(pm.id, customer=session.customer)
            Customer._api_update(
                session.customer,
                invoice_settings={"default_payment_method": pm.id},
            )
            price = session._line_items[0]["price_data"]
            plan = Plan(
                amount=int(price["unit_amount"]),
                currency=price["currency"],
                interval=price["recurring"]["interval"],
                product={"name": price["product_data"]["name"]},
            )
            sub = Subscription(
                customer=session.customer,
                items=[{"plan": plan.id}],
                metadata=dict(session._subscription_metadata),
            )
            if sub.status != "active":
                return server.json_response(session._export(), status=402)
            session.subscription = sub.id
            session.invoice = sub.latest_invoice
        session.status = "complete"
        session.payment_status = "paid"
        schedule_webhook(Event("checkout.session.completed", session))
        return server.json_response(session._export())

    async def hosted_page(request):
        session = _find(request.match_info["id"])
        body = (
            f"<h1>Test checkout {session.id}</h1><p>{session.amount_total / 100:.2f} "
            f"{session.currency.upper()}</p><form method=post "
            f"action=/_test/checkout/{session.id}/pay><input name=card "
            f"value=4242424242424242><button>Pay</button></form>"
        )
        return web.Response(text=body, content_type="text/html")

    async def renew_subscription(request):
        sub = Subscription._api_retrieve(request.match_info["id"])
        sub._create_invoice()
        invoice = resources.Invoice._api_retrieve(sub.latest_invoice)
        if invoice.status == "paid":
            schedule_webhook(Event("invoice.paid", invoice))
        else:
            # localstripe marks the subscription past_due without an event.
            schedule_webhook(Event("invoice.payment_failed", invoice))
        schedule_webhook(Event("customer.subscription.updated", sub))
        return server.json_response(invoice._export())

    def _price_json(plan) -> dict:
        return {
            "id": plan.id,
            "object": "price",
            "active": True,
            "currency": plan.currency,
            "unit_amount": plan.amount,
            "recurring": {"interval": plan.interval, "interval_count": 1},
            "product": plan.product,
            "metadata": plan.metadata or {},
            "type": "recurring",
        }

    async def create_price(request):
        data = await server.get_post_data(request) or {}
        recurring = data.get("recurring") or {}
        if not recurring.get("interval") or not data.get("product_data"):
            raise UserError(400, "recurring and product_data are required")
        plan = Plan(
            amount=int(data["unit_amount"]),
            currency=data["currency"],
            interval=recurring["interval"],
            product={"name": data["product_data"]["name"]},
            metadata=data.get("metadata") or {},
        )
        return server.json_response(_price_json(plan))

    async def update_subscription(request, subscription_id: str):
        """Today's parameters on localstripe's legacy update."""
        data = await server.get_post_data(request) or {}
        for item in data.get("items") or []:
            if "price" in item:
                item["plan"] = item.pop("price")
        behavior = data.pop("proration_behavior", None)
        if behavior is not None:
            if behavior not in ("create_prorations", "none", "always_invoice"):
                raise UserError(400, "Invalid proration_behavior")
            data["prorate"] = behavior != "none"
        # localstripe accepts metadata on update but drops it.
        metadata = data.pop("metadata", None) or {}
        sub = Subscription._api_update(subscription_id, **data)
        sub.metadata = {**(sub.metadata or {}), **metadata}
        schedule_webhook(Event("customer.subscription.updated", sub))
        return server.json_response(sub._export())

    portals: dict[str, dict] = {}

    async def create_portal_session(request):
        data = await server.get_post_data(request) or {}
        customer = data.get("customer")
        if not customer:
            raise UserError(400, "customer is required")
        Customer._api_retrieve(customer)
        session_id = (
            "bps_test_"
            + hashlib.sha256(f"{customer}{time.time_ns()}".encode()).hexdigest()[:20]
        )
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "created": int(time.time()),
            "customer": customer,
            "livemode": False,
            "return_url": data.get("return_url"),
            "url": f"{public_url}/portal/{session_id}",
        }
        portals[session_id] = session
        return server.json_response(session)

    async def portal_page(request):
        session = portals.get(request.match_info["id"])
        if session is None:
            raise UserError(404, "Not Found")
        body = (
            f"<h1>Test customer portal</h1><p>{session['customer']}</p>"
            f'<a href="{session["return_url"]}">Return</a>'
        )
        return web.Response(text=body, content_type="text/html")

    async def list_portal_sessions(request):
        return server.json_response(list(portals.values()))

    async def list_events(request):
        events = [v._export() for k, v in store.items() if k.startswith("event:")]
        return server.json_response(events)

    replies: dict[str, tuple[str, int, bytes]] = {}
    seen_keys: list[str] = []

    @web.middleware
    async def idempotency(request, handler):
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or request.path.startswith("/_"):
            return await handler(request)
        body = await request.read()
        digest = hashlib.sha256(request.path.encode() + b"?" + body).hexdigest()
        seen_keys.append(key)
        if key in replies:
            stored_digest, status, text = replies[key]
            if stored_digest != digest:
                return server.json_response(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only "
                            "be used with the same parameters.",
                        }
                    },
                    status=400,
                )
            return web.Response(
                body=text,
                status=status,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        if response.status < 500:
            replies[key] = (digest, response.status, response.body)
        return response

    async def list_keys(request):
        return server.json_response(seen_keys)

    @web.middleware
    async def modern_routes(request, handler):
        # localstripe registered POST /v1/subscriptions/{id} first; this
        # translation runs before its route.
        parts = request.path.strip("/").split("/")
        if (
            request.method == "POST"
            and len(parts) == 3
            and parts[:2] == ["v1", "subscriptions"]
        ):
            return await update_subscription(request, parts[2])
        return await handler(request)

    app.middlewares.append(idempotency)
    app.middlewares.append(modern_routes)
    app.router.add_post("/v1/prices", create_price)
    app.router.add_post("/v1/billing_portal/sessions", create_portal_session)
    app.router.add_get("/portal/{id}", portal_page)
    app.router.add_get("/_test/portal_sessions", list_portal_sessions)
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/v1/checkout/sessions", list_sessions)
    app.router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    app.router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
    app.router.add_get("/checkout/{id}", hosted_page)
    app.router.add_post("/_test/checkout/{id}/pay", pay_session)
    app.router.add_post("/_test/subscriptions/{id}/renew", renew_subscription)
    app.router.add_get("/_test/events", list_events)
    app.router.add_get("/_test/idempotency_keys", list_keys)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    from aiohttp import web

    app = build_app(f"http://127.0.0.1:{args.port}")
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StripeEmulator:
    """The emulator as a subprocess on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> StripeEmulator:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.stripe_emulator",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("the Stripe emulator exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("the Stripe emulator did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def request(self, method: str, path: str, data: dict | None = None) -> Any:
        body = None
        headers = {"Authorization": "Bearer sk_test_emulator"}
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"null")

    def events(self) -> list[dict]:
        return self.request("GET", "/_test/events")

    def pay(self, session_id: str, card: str = "4242424242424242") -> dict:
        return self.request("POST", f"/_test/checkout/{session_id}/pay", {"card": card})


if __name__ == "__main__":
    main()
