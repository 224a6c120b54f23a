"""Landdesk: desk booking and door access for rural coworking spaces."""

from __future__ import annotations

import os

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder="static",
    )
    from .config import load_config, validate_config

    load_config(app, test_config)

    from .validation import IdConverter, clean_names_on_input

    # Before any route is added: every <int:...> is bounded to 64-bit ids.
    app.url_map.converters["int"] = IdConverter
    clean_names_on_input()

    from . import db, i18n, security, sessions, tasks
    from .errors import register_error_handlers
    from .extensions import limiter

    db.init_app(app)
    tasks.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    i18n.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    register_error_handlers(app)

    from .api.views import bp as api_bp
    from .auth.views import bp as auth_bp
    from .bookings.views import bp as bookings_bp
    from .network.views import bp as network_bp
    from .spaces.views import bp as spaces_bp

    app.register_blueprint(network_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(bookings_bp)
    app.register_blueprint(spaces_bp)
    app.register_blueprint(api_bp)
    from .auth.api import api_bp as people_api_bp

    app.register_blueprint(people_api_bp)

    from .calendars.views import api_bp as calendars_api_bp
    from .calendars.views import bp as calendars_bp
    from .checkin.views import api_bp as checkin_api_bp
    from .checkin.views import bp as checkin_bp
    from .insight.views import api_bp as insight_api_bp
    from .insight.views import bp as insight_bp
    from .notifications.views import bp as notifications_bp
    from .privacy.views import api_bp as account_api_bp
    from .privacy.views import bp as account_bp

    for blueprint in (
        calendars_bp,
        calendars_api_bp,
        checkin_bp,
        checkin_api_bp,
        insight_bp,
        insight_api_bp,
        notifications_bp,
        account_bp,
        account_api_bp,
    ):
        app.register_blueprint(blueprint)

    from .billing.cli import register_cli as register_billing_cli
    from .billing.views import bp as billing_bp
    from .passes.views import bp as passes_bp
    from .security import ChunkedBodyLimit, csrf_exempt_endpoint

    app.register_blueprint(billing_bp)
    from .billing.api import api_bp as billing_api_bp

    app.register_blueprint(billing_api_bp)
    app.register_blueprint(passes_bp)
    csrf_exempt_endpoint("billing.webhook")  # proven by its Stripe signature
    register_billing_cli(app)

    from .invoicing.api import api_bp as invoicing_api_bp
    from .invoicing.views import bp as invoicing_bp

    app.register_blueprint(invoicing_bp)
    app.register_blueprint(invoicing_api_bp)

    from .access.api import api_bp as access_api_bp
    from .access.cli import register_cli as register_access_cli
    from .access.views import bp as access_bp

    app.register_blueprint(access_bp)
    app.register_blueprint(access_api_bp)
    from .access.pairing_api import api_bp as pairing_api_bp

    app.register_blueprint(pairing_api_bp)
    register_access_cli(app)

    # Personal data: each domain adds to the export and the account deletion.
    from .access.privacy import register_privacy as register_access_privacy
    from .billing.privacy import register_privacy as register_billing_privacy
    from .invoicing.privacy import register_privacy as register_invoicing_privacy
    from .passes.privacy import register_privacy as register_passes_privacy

    register_access_privacy()
    register_billing_privacy()
    register_invoicing_privacy()
    register_passes_privacy()

    _connect_receivers()

    from .cli import register_cli

    register_cli(app)

    app.wsgi_app = ChunkedBodyLimit(app, app.wsgi_app)
    validate_config(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client address (login throttle, rate limits, logs) and scheme
        # come from the headers only this many proxies deep.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    # Last: /readyz, /metrics, and the request-id and latency layers around
    # everything above.
    from .ops.views import init_app as init_ops

    init_ops(app)
    return app


def _connect_receivers() -> None:
    """Who listens to which domain event (booking/events.py). blinker keeps
    one connection per receiver, so every app of a test run may connect
    again."""
    from . import events, metrics
    from .access import pins
    from .billing import settlement
    from .bookings import closures as booking_closures
    from .bookings import guards
    from .checkin import services as checkin
    from .invoicing import issuing as invoicing
    from .notifications import payments as payment_mails
    from .notifications import services as notifications
    from .passes import queries as passes_queries

    # Inside the unit of work: bookings keeps booked seats, billing settles
    # and releases bookings, access withdraws a cancelled booking's PIN.
    events.seats_removed.connect(guards.refuse_removing_booked_seats)
    events.closure_added.connect(booking_closures.cancel_closed_bookings)
    events.booking_placed.connect(settlement.settle_booking)
    events.booking_released.connect(settlement.release_booking)
    events.booking_released.connect(pins.on_booking_released)
    # Questions bookings asks the domains above it.
    events.fixed_desks_asked.connect(passes_queries.on_fixed_desks_asked)
    events.expired_holds_asked.connect(settlement.on_expired_holds_asked)
    # Invoicing issues the sale's invoice, or its cancellation invoice.
    events.sale_made.connect(invoicing.on_sale_made)
    events.sale_reversed.connect(invoicing.on_sale_reversed)
    # After the commit.
    events.booking_confirmed.connect(notifications.on_booking_changed)
    events.booking_cancelled.connect(notifications.on_booking_changed)
    events.renewal_failed.connect(notifications.on_renewal_failed)
    events.invoice_issued.connect(payment_mails.on_invoice_issued)
    events.mail_queued.connect(notifications.on_mail_queued)
    # The counters of /metrics.
    events.booking_placed.connect(metrics.on_booking_placed)
    events.booking_refused.connect(metrics.on_booking_refused)
    events.unlock_audited.connect(metrics.on_unlock_audited)
    # After the booking-mail delivery: the waitlist.
    events.desk_freed.connect(checkin.on_desk_freed)
