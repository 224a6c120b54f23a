"""E-mail notifications in the member's language, as the member chose them.

Mails are composed and sent after the unit of work that caused them has
committed, never in the transaction; a failing mail server is logged and
never undoes a booking. Booking mails are marked on the booking and delivered
by polling (see ``deliver_booking_mails``). ``send_reminders`` claims each
reminder in ``sent_notifications`` under a unique key before sending, so
running it twice sends nothing twice.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session, selectinload

from .. import events
from ..auth.models import User
from ..bookings.models import Booking, BookingStatus
from ..calendars import ical
from ..db import get_db, unit_of_work, utcnow
from ..i18n import localdate, locale_for
from ..mail import Attachment, send_mail
from ..passes.models import Pass, PassStatus
from ..spaces.hours import local_date
from ..spaces.models import DAY_KINDS, Closure, Location
from ..tasks import background_job
from .claims import (  # noqa: F401 (the names callers know)
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    RETRY_BACKOFF,
    claim,
    claim_many,
    failed_mails,
    finish_claim,
    finish_claims,
)
from .models import NotificationKind, NotificationOptOut, SentNotification

log = logging.getLogger(__name__)

SUBJECTS = {
    NotificationKind.BOOKING_CONFIRMED: _l("Booked: %(what)s on %(day)s"),
    NotificationKind.BOOKING_CANCELLED: _l("Cancelled: %(what)s on %(day)s"),
    NotificationKind.REMINDER: _l("Tomorrow: %(what)s"),
    NotificationKind.WAITLIST: _l("A desk is free at %(location)s on %(day)s"),
    NotificationKind.PAYMENT_FAILED: _l("Your payment did not go through"),
    NotificationKind.MEMBERSHIP_RENEWING: _l("Your membership renews on %(day)s"),
    NotificationKind.PAYMENT_DUE: _l("Reminder: payment due since %(day)s"),
}

LABELS = {
    NotificationKind.BOOKING_CONFIRMED: _l("Booking confirmations"),
    NotificationKind.BOOKING_CANCELLED: _l("Cancellations"),
    NotificationKind.REMINDER: _l("Reminder the day before"),
    NotificationKind.WAITLIST: _l("A desk on my waitlist is free"),
    NotificationKind.PAYMENT_FAILED: _l("Failed payments"),
    NotificationKind.MEMBERSHIP_RENEWING: _l("Membership renewals"),
    NotificationKind.PAYMENT_DUE: _l("Payment reminders"),
}


# --- preferences -----------------------------------------------------------


def opted_out(db: Session, user_id: int) -> set[NotificationKind]:
    return {
        NotificationKind(kind)
        for kind in db.scalars(
            select(NotificationOptOut.kind).where(NotificationOptOut.user_id == user_id)
        )
    }


def wants(db: Session, user: User, kind: NotificationKind) -> bool:
    return (
        user.is_active
        and bool(user.email)
        and db.get(NotificationOptOut, (user.id, str(kind))) is None
    )


def set_preferences(db: Session, user: User, enabled: Iterable[str]) -> None:
    """Keep exactly the given kinds switched on (unknown names are ignored)."""
    enabled = {str(kind) for kind in enabled}
    with unit_of_work(db):
        db.execute(
            delete(NotificationOptOut).where(NotificationOptOut.user_id == user.id)
        )
        for kind in NotificationKind:
            if kind not in enabled:
                db.add(NotificationOptOut(user_id=user.id, kind=kind))


# --- composing and sending -------------------------------------------------


def deliver(
    user: User,
    kind: NotificationKind,
    context: dict,
    attachments: list[Attachment] | None = None,
) -> bool:
    """Render ``emails/<kind>.txt|.html`` in the user's language and send it.

    Returns False (and logs) when the mail could not be sent.
    """
    return _send(user, kind, lambda: (context, attachments)) is None


def _send(
    user: User | GuestRecipient,
    kind: NotificationKind,
    compose: Callable[[], tuple[dict, list[Attachment] | None]],
) -> str | None:
    """Compose and send one mail; None when it went out, else why not.

    Any failure is caught and logged: one mail that cannot be composed or sent
    (a broken template, a header the mail library refuses, a server that is
    down) never stops the mails after it.
    """
    try:
        with force_locale(locale_for(user)):
            context, attachments = compose()
            subject = str(SUBJECTS[kind] % context.get("subject_args", {}))
            values = {
                "user": user,
                "public_url": current_app.config["PUBLIC_URL"],
                **context,
            }
            # Straight from the Jinja environment: render_template would run
            # every context processor of the web pages (the network settings
            # query, door helpers) for each part of each mail.
            env = current_app.jinja_env
            text = env.get_template(f"emails/{kind}.txt").render(values)
            html = env.get_template(f"emails/{kind}.html").render(values)
        send_mail(user.email, subject, text, html, attachments=attachments)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("could not send %s mail to user %s: %r", kind, user.id, error)
        return f"{type(error).__name__}: {error}"[:200]
    except Exception as error:
        log.exception("could not compose %s mail to user %s", kind, user.id)
        return f"{type(error).__name__}: {error}"[:200]
    return None


@dataclass(frozen=True)
class GuestRecipient:
    """A guest without an account, written to like a user (``_send``): in the
    language of the member who booked for them, with that member's id in
    logs and claims."""

    id: int
    name: str
    email: str
    locale: str | None
    is_active: bool = True


def recipient_of(booking: Booking) -> User | GuestRecipient:
    """Who a booking's mails go to: its holder, or the guest it is for."""
    if booking.guest_email:
        return GuestRecipient(
            booking.user_id,
            booking.guest_name or "",
            booking.guest_email,
            booking.user.locale,
        )
    return booking.user


def _booking_context(booking: Booking) -> dict:
    location = booking.location
    return {
        "booking": booking,
        "location": location,
        "resource": booking.resource,
        "closure": closure_that_cancelled(booking),
        "tz": location.timezone,
        "subject_args": {
            "what": f"{booking.resource.name} · {location.name}",
            "day": localdate(booking.booked_on, fmt="medium"),
            "location": location.name,
        },
    }


def closure_that_cancelled(booking: Booking) -> Closure | None:
    """The closure of its day (of the location, or of its desk or room) that
    cancelled this booking, for the cancellation mail to say so and why. A
    closure cancels the live bookings it covers at its creation
    (bookings.closures), so the booking's cancellation is not before it."""
    if booking.status != BookingStatus.CANCELLED or booking.cancelled_at is None:
        return None
    return get_db().scalar(
        select(Closure)
        .where(
            Closure.location_id == booking.location_id,
            or_(
                Closure.resource_id.is_(None),
                Closure.resource_id == booking.resource_id,
            ),
            Closure.starts_on <= booking.booked_on,
            Closure.ends_on >= booking.booked_on,
            Closure.created_at <= booking.cancelled_at,
        )
        .order_by(Closure.created_at.desc(), Closure.id.desc())
        .limit(1)
    )


def _booking_mail(
    booking: Booking, kind: NotificationKind
) -> tuple[dict, list[Attachment]]:
    method, body = ical.invitation(booking, organizer=current_app.config["MAIL_FROM"])
    attachment = Attachment(
        filename="booking.ics" if method == "REQUEST" else "cancellation.ics",
        data=body,
        mimetype="text/calendar",
        params={"method": method, "charset": "utf-8"},
    )
    # In the holder's language: _send calls this under force_locale.
    return _booking_context(booking), [attachment]


# --- booking mails: marked in the transaction, delivered by polling ----------
#
# A booking change that owes its holder a mail sets ``bookings.mail_due`` in
# its own transaction (create_booking writes it with the INSERT), so the mail
# cannot be lost between the commit and the send, and the request does no mail
# work at all. ``deliver_booking_mails`` finds the marked bookings (a partial
# index holds only them), claims each mail under a unique key in
# ``sent_notifications`` as the reminders do, and sends it. Who runs it after
# a commit depends on ``MAIL_DELIVERY`` (see config.py): a background thread of
# the web process, a separate ``flask notifications deliver --loop`` worker,
# or the caller itself (tests).

DELIVERY_BATCH = 100


def on_booking_changed(booking: Booking, *, db: Session) -> None:
    """After the commit of a booking change that marked its mail due
    (``events.booking_confirmed``, ``events.booking_cancelled``): have it
    delivered as MAIL_DELIVERY says."""
    start = mail_delivery_start()
    if start is not None:
        start()


def mail_delivery_start() -> Callable[[], None] | None:
    """What to call after a commit that marked a booking's mail as due, as
    MAIL_DELIVERY says: None for ``worker`` (it polls), a wake-up of the
    background thread for ``thread``, delivery right away for ``inline``."""
    mode = current_app.config["MAIL_DELIVERY"]
    if mode == "worker":
        return None
    app = current_app._get_current_object()
    if mode == "thread":
        return background_job(app, "landdesk-mail", _deliver_all).wake
    return lambda: _deliver_in_own_context(app)


def _deliver_in_own_context(app) -> None:
    # Its own app context, so its own session: the caller's session and objects
    # stay untouched, as with the thread.
    with app.app_context():
        try:
            _deliver_all()
        except Exception:
            log.exception("booking mail delivery failed")


def _deliver_all() -> None:
    """Deliver batches until nothing is due (or a send failed: retry later)."""
    db = get_db()
    while True:
        handled, failed = deliver_booking_mails(db)
        if handled < DELIVERY_BATCH or failed:
            return


def deliver_booking_mails(
    db: Session, *, now: datetime | None = None, limit: int = DELIVERY_BATCH
) -> tuple[int, int]:
    """Send the mails of up to ``limit`` bookings marked ``mail_due``, oldest
    first, and tell waitlists about cancelled desks. Safe to run in several
    processes at once: each marker is cleared by exactly one of them, and each
    mail is claimed under a unique key before it is sent. A failed send is
    retried on a later run while the booking has not ended.

    Returns (bookings handled, sends that failed).
    """
    now = now or utcnow()
    # A mail waiting for its next attempt is not due yet.
    waiting = exists().where(
        SentNotification.booking_id == Booking.id,
        SentNotification.kind == Booking.mail_due,
        SentNotification.sent_at.is_(None),
        SentNotification.failed_at.is_(None),
        SentNotification.next_attempt_at > now,
    )
    due = list(
        db.scalars(
            select(Booking)
            .where(Booking.mail_due.is_not(None), ~waiting)
            .order_by(Booking.id)
            .limit(limit)
            .options(
                selectinload(Booking.user),
                selectinload(Booking.resource),
                selectinload(Booking.location),
            )
        )
    )
    if not due:
        return 0, 0
    muted = {
        (user_id, kind)
        for user_id, kind in db.execute(
            select(NotificationOptOut.user_id, NotificationOptOut.kind).where(
                NotificationOptOut.user_id.in_({b.user_id for b in due})
            )
        )
    }
    by_kind: dict[NotificationKind, list[Booking]] = {}
    for booking in due:
        by_kind.setdefault(NotificationKind(booking.mail_due), []).append(booking)
    mine: list[tuple[Booking, NotificationKind]] = []
    with unit_of_work(db):  # one write transaction for the whole batch
        for kind, bookings in by_kind.items():
            # Compare and clear: whoever clears the marker handles the change.
            cleared = set(
                db.scalars(
                    update(Booking.__table__)
                    .where(
                        Booking.id.in_([b.id for b in bookings]),
                        Booking.mail_due == kind,
                    )
                    .values(mail_due=None)
                    .returning(Booking.id)
                )
            )
            mine += [(b, kind) for b in bookings if b.id in cleared]
        owed = {
            f"{kind}:booking:{booking.id}": (booking, kind)
            for booking, kind in mine
            if _owes_mail(booking, kind, muted)
        }
        claimed = claim_many(
            db,
            [(key, b.user_id, b.id, kind) for key, (b, kind) in owed.items()],
            now=now,
        )
    results = []
    for key, (booking, kind) in owed.items():
        if key in claimed:
            mail = partial(_booking_mail, booking, kind)
            results.append(
                (key, booking, kind, _send(recipient_of(booking), kind, mail))
            )
    with unit_of_work(db):  # the outcome and the retry marker together
        retries = finish_claims(
            db,
            [
                (key, error, booking.ends_at <= now)
                for key, booking, _, error in results
            ],
            now=now,
        )
        for key, booking, kind, _error in results:
            if key in retries:
                _retry_later(db, booking, kind)
    failed = sum(1 for *_, error in results if error is not None)
    for booking, kind in mine:
        if kind == NotificationKind.BOOKING_CANCELLED and (
            booking.resource.kind in DAY_KINDS
        ):
            # The waitlist (checkin) listens.
            events.desk_freed.send(booking, db=db)
    return len(mine), failed


def _owes_mail(
    booking: Booking, kind: NotificationKind, muted: set[tuple[int, str]]
) -> bool:
    if kind == NotificationKind.BOOKING_CONFIRMED and (
        booking.status != BookingStatus.CONFIRMED
    ):
        # Held for payment: billing confirms (and marks it again) once paid.
        return False
    if booking.guest_email:
        # A guest has no preferences; the mail carries their door PIN.
        return True
    user = booking.user
    return user.is_active and bool(user.email) and (user.id, kind) not in muted


def _retry_later(db: Session, booking: Booking, kind: NotificationKind) -> None:
    # Mark the booking again; the due query leaves it alone until the claim's
    # next attempt is due.
    db.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.mail_due.is_(None))
        .values(mail_due=kind)
        .execution_options(synchronize_session=False)
    )


# --- idempotent sends: notifications.claims ---------------------------------


def send_once(
    db: Session,
    key: str,
    user: User,
    kind: NotificationKind,
    context: dict,
    attachments: list[Attachment] | None = None,
) -> bool:
    """Send a mail at most once per ``key``; True if it went out now."""
    if not wants(db, user, kind) or not claim(db, key, user.id, kind=kind):
        return False
    error = _send(user, kind, lambda: (context, attachments))
    finish_claim(db, key, error)
    return error is None


def send_reminders(db: Session, *, now: datetime | None = None) -> int:
    """Remind holders of tomorrow's confirmed bookings (local day of each
    location). Safe to run any number of times: each reminder goes out once.
    Returns the number of mails sent.
    """
    now = now or utcnow()
    candidates = list(
        db.scalars(
            select(Booking)
            .join(Location, Location.id == Booking.location_id)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.starts_at > now,
                Booking.starts_at < now + timedelta(hours=60),
            )
            .order_by(Booking.starts_at)
        )
    )
    sent = 0
    for booking in candidates:
        tomorrow = local_date(now, booking.location.timezone) + timedelta(days=1)
        if booking.booked_on != tomorrow:
            continue
        user = recipient_of(booking)
        with force_locale(locale_for(user)):
            context = _booking_context(booking)
        if send_once(
            db,
            f"reminder:booking:{booking.id}",
            user,
            NotificationKind.REMINDER,
            context,
        ):
            sent += 1
    return sent


def notify_waitlist_free(
    db: Session, user: User, location: Location, day: date
) -> bool:
    with force_locale(locale_for(user)):
        context = {
            "location": location,
            "day": day,
            "subject_args": {
                "location": location.name,
                "day": localdate(day, fmt="medium"),
            },
        }
    if not wants(db, user, NotificationKind.WAITLIST):
        return False
    return deliver(user, NotificationKind.WAITLIST, context)


# --- memberships and payments (see docs/reports.md) -----------------------


def notify_payment_failed(
    db: Session, user: User, *, key: str, amount_cents: int, currency: str
) -> bool:
    """Tell a member a payment failed; ``key`` (e.g. the payment id) dedupes."""
    context = {"amount": amount_cents / 100, "currency": currency.upper()}
    return send_once(
        db, f"payment_failed:{key}", user, NotificationKind.PAYMENT_FAILED, context
    )


def notify_membership_renewing(
    db: Session,
    user: User,
    *,
    key: str,
    plan: str,
    renews_on: date,
    amount_cents: int,
    currency: str,
) -> bool:
    """Tell a member their membership renews soon; ``key`` dedupes."""
    with force_locale(locale_for(user)):
        context = {
            "plan": plan,
            "renews_on": renews_on,
            "amount": amount_cents / 100,
            "currency": currency.upper(),
            "subject_args": {"day": localdate(renews_on, fmt="medium")},
        }
    return send_once(
        db, f"renewal:{key}", user, NotificationKind.MEMBERSHIP_RENEWING, context
    )


def on_renewal_failed(pass_: Pass, *, db: Session, key: str) -> None:
    """After the commit that recorded a failed renewal charge
    (``events.renewal_failed``): tell the holder, once per ``key``."""
    notify_payment_failed(
        db,
        pass_.user or pass_.company.admin,
        key=f"renewal:{key}",
        amount_cents=pass_.plan.price_cents,
        currency=pass_.plan.currency,
    )


RENEWAL_NOTICE_DAYS = 3


def remind_renewals(db: Session, *, now: datetime | None = None) -> int:
    """Tell holders that their membership or company budget renews soon.

    For cron, with the booking reminders: each renewal is announced once
    (keyed by pass and period end), nothing for memberships that end at the
    period end instead. Returns the number of mails sent.
    """
    now = now or utcnow()
    due = db.scalars(
        select(Pass).where(
            Pass.status == PassStatus.ACTIVE,
            Pass.cancel_at_period_end.is_(False),
            Pass.current_period_end > now,
            Pass.current_period_end <= now + timedelta(days=RENEWAL_NOTICE_DAYS),
        )
    ).all()
    sent = 0
    for pass_ in due:
        person = pass_.user or pass_.company.admin
        if notify_membership_renewing(
            db,
            person,
            key=f"{pass_.id}:{pass_.current_period_end.date().isoformat()}",
            plan=pass_.plan.name,
            renews_on=pass_.current_period_end.date(),
            amount_cents=pass_.plan.price_cents,
            currency=pass_.plan.currency,
        ):
            sent += 1
    return sent
