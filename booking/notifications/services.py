"""E-mail notifications in the member's language, as the member chose them.

Mails are sent after the unit of work that caused them has committed, never
in the transaction nor in the request; a failing mail server is logged and
never undoes a booking. Booking mails are marked on the booking and composed
when they are delivered (see ``deliver_booking_mails``); every other mail, of
this module or of any domain, is composed at once and queued under a unique
key in ``sent_notifications`` (booking.outbox, ``send_once``), so running
``send_reminders`` twice sends nothing twice. One delivery sends both
(``deliver_due_mails``), with the same claims and retries (``claims``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, selectinload

from .. import events
from ..auth.models import User
from ..bookings.models import Booking, BookingStatus
from ..db import get_db, unit_of_work, utcnow
from ..i18n import localdate, locale_for
from ..mail import send_mail
from ..outbox import queue_mail
from ..passes.models import NETWORK_TIMEZONE, Pass, PassStatus
from ..spaces.hours import local_date
from ..spaces.models import DAY_KINDS, Location
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
from .compose import (
    attempt_send,
    booking_context,
    booking_mail,
    compose_mail,
    recipient_of,
    send_composed,
)
from .models import NotificationKind, NotificationOptOut, SentNotification

log = logging.getLogger(__name__)

LABELS = {
    NotificationKind.BOOKING_CONFIRMED: _l("Booking confirmations"),
    NotificationKind.BOOKING_CANCELLED: _l("Cancellations"),
    NotificationKind.REMINDER: _l("Reminder the day before"),
    NotificationKind.WAITLIST: _l("A desk on my waitlist is free"),
    NotificationKind.PAYMENT_FAILED: _l("Failed payments"),
    NotificationKind.MEMBERSHIP_RENEWING: _l("Membership renewals"),
    NotificationKind.PAYMENT_DUE: _l("Payment reminders"),
    NotificationKind.INVOICE_ISSUED: _l("Invoices"),
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


def on_mail_queued(sender: None, *, db: Session) -> None:
    """After the commit that queued a mail (``events.mail_queued``,
    booking.outbox): have it delivered as MAIL_DELIVERY says."""
    start = mail_delivery_start()
    if start is not None:
        start()


def _deliver_all() -> None:
    """Deliver batches until nothing is due (or a send failed: retry later)."""
    db = get_db()
    while True:
        handled, failed = deliver_due_mails(db)
        if handled < DELIVERY_BATCH or failed:
            return


def deliver_due_mails(
    db: Session, *, now: datetime | None = None, limit: int = DELIVERY_BATCH
) -> tuple[int, int]:
    """One round of the mail delivery: the booking mails that are due, then
    the queued mails (booking.outbox). Returns (handled, failed) of both:
    fewer handled than ``limit`` means both are caught up."""
    bookings = deliver_booking_mails(db, now=now, limit=limit)
    queued = deliver_queued_mails(db, now=now, limit=limit)
    return bookings[0] + queued[0], bookings[1] + queued[1]


def deliver_queued_mails(
    db: Session, *, now: datetime | None = None, limit: int = DELIVERY_BATCH
) -> tuple[int, int]:
    """Send up to ``limit`` queued mails that are due (never tried, or their
    pause after a failure is over), oldest first, claimed as the booking
    mails are, so several processes never send one twice and a failure is
    retried with the same pauses. Returns (mails tried, sends that failed).
    """
    now = now or utcnow()
    due = list(
        db.scalars(
            select(SentNotification)
            .where(
                SentNotification.body_text.is_not(None),
                SentNotification.sent_at.is_(None),
                SentNotification.failed_at.is_(None),
                SentNotification.next_attempt_at <= now,
            )
            .order_by(SentNotification.next_attempt_at, SentNotification.id)
            .limit(limit)
        )
    )
    if not due:
        return 0, 0
    claimed = claim_many(
        db, [(row.key, row.user_id, row.booking_id, row.kind) for row in due], now=now
    )
    results = [
        (
            row.key,
            attempt_send(
                f"mail {row.key}",
                partial(
                    send_mail, row.recipient, row.subject, row.body_text, row.body_html
                ),
            ),
        )
        for row in due
        if row.key in claimed
    ]
    finish_claims(db, [(key, error, False) for key, error in results], now=now)
    return len(results), sum(1 for _, error in results if error is not None)


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
            mail = partial(booking_mail, booking, kind)
            results.append(
                (key, booking, kind, send_composed(recipient_of(booking), kind, mail))
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
    db: Session, key: str, user: User, kind: NotificationKind, context: dict
) -> bool:
    """Queue a mail at most once per ``key`` (booking.outbox: sent after the
    commit by the mail delivery, retried when the server fails); True if it
    was queued now."""
    if not wants(db, user, kind):
        return False
    composed: list = []
    if attempt_send(
        f"{kind} mail to user {user.id}",
        lambda: composed.extend(compose_mail(user, kind, lambda: (context, None))),
    ):
        return False
    subject, text, html, _ = composed
    with unit_of_work(db):
        return queue_mail(
            db, key, user.email, subject, text, html, user_id=user.id, kind=kind
        )


def send_reminders(db: Session, *, now: datetime | None = None) -> int:
    """Remind holders of tomorrow's confirmed bookings (local day of each
    location). Safe to run any number of times: each reminder goes out once.
    Returns the number of mails queued.
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
            context = booking_context(booking)
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
    return send_once(
        db,
        f"waitlist:{location.id}:{day.isoformat()}:{user.id}",
        user,
        NotificationKind.WAITLIST,
        context,
    )


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
        # The day in Berlin: a period paid by transfer ends at local midnight.
        renews_on = local_date(pass_.current_period_end, NETWORK_TIMEZONE)
        if notify_membership_renewing(
            db,
            person,
            key=f"{pass_.id}:{pass_.current_period_end.date().isoformat()}",
            plan=pass_.plan.name,
            renews_on=renews_on,
            amount_cents=pass_.plan.price_cents,
            currency=pass_.plan.currency,
        ):
            sent += 1
    return sent
