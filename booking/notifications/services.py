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
from datetime import date, datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from ..auth.models import User
from ..bookings.models import Booking, BookingStatus
from ..calendars import ical
from ..db import get_db, on_commit, unit_of_work, utcnow
from ..mail import Attachment, send_mail
from ..spaces.hours import local_date
from ..spaces.models import DAY_KINDS, Location
from ..tasks import background_job
from .models import NotificationKind, NotificationOptOut, SentNotification

log = logging.getLogger(__name__)

SUBJECTS = {
    NotificationKind.BOOKING_CONFIRMED: _l("Booked: %(what)s on %(day)s"),
    NotificationKind.BOOKING_CANCELLED: _l("Cancelled: %(what)s on %(day)s"),
    NotificationKind.REMINDER: _l("Tomorrow: %(what)s"),
    NotificationKind.WAITLIST: _l("A desk is free at %(location)s on %(day)s"),
    NotificationKind.PAYMENT_FAILED: _l("Your payment did not go through"),
    NotificationKind.MEMBERSHIP_RENEWING: _l("Your membership renews on %(day)s"),
}

LABELS = {
    NotificationKind.BOOKING_CONFIRMED: _l("Booking confirmations"),
    NotificationKind.BOOKING_CANCELLED: _l("Cancellations"),
    NotificationKind.REMINDER: _l("Reminder the day before"),
    NotificationKind.WAITLIST: _l("A desk on my waitlist is free"),
    NotificationKind.PAYMENT_FAILED: _l("Failed payments"),
    NotificationKind.MEMBERSHIP_RENEWING: _l("Membership renewals"),
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


def _locale_for(user: User) -> str:
    languages = current_app.config["LANGUAGES"]
    if user.locale in languages:
        return user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def deliver(
    user: User,
    kind: NotificationKind,
    context: dict,
    attachments: list[Attachment] | None = None,
) -> bool:
    """Render ``emails/<kind>.txt|.html`` in the user's language and send it.

    Returns False (and logs) when the mail server fails.
    """
    public_url = current_app.config["PUBLIC_URL"]
    with force_locale(_locale_for(user)):
        subject = str(SUBJECTS[kind] % context.get("subject_args", {}))
        values = {"user": user, "public_url": public_url, **context}
        text = render_template(f"emails/{kind}.txt", **values)
        html = render_template(f"emails/{kind}.html", **values)
    try:
        send_mail(user.email, subject, text, html, attachments=attachments)
    except (OSError, smtplib.SMTPException):
        log.exception("could not send %s mail to user %s", kind, user.id)
        return False
    return True


def _booking_context(booking: Booking) -> dict:
    from ..i18n import localdate

    location = booking.location
    return {
        "booking": booking,
        "location": location,
        "resource": booking.resource,
        "tz": location.timezone,
        "subject_args": {
            "what": f"{booking.resource.name} · {location.name}",
            "day": localdate(booking.booked_on, fmt="medium"),
            "location": location.name,
        },
    }


def _booking_mail(booking: Booking, kind: NotificationKind) -> tuple[dict, Attachment]:
    method, body = ical.invitation(booking, organizer=current_app.config["MAIL_FROM"])
    attachment = Attachment(
        filename="booking.ics" if method == "REQUEST" else "cancellation.ics",
        data=body,
        mimetype="text/calendar",
        params={"method": method, "charset": "utf-8"},
    )
    with force_locale(_locale_for(booking.user)):
        context = _booking_context(booking)
    return context, attachment


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


def notify_booking_confirmed(db: Session, booking: Booking) -> None:
    """Inside a unit of work: mail the holder the booking (with a
    METHOD:REQUEST .ics) once it has committed."""
    booking.mail_due = NotificationKind.BOOKING_CONFIRMED
    deliver_after_commit(db)


def notify_booking_cancelled(db: Session, booking: Booking) -> None:
    """Inside a unit of work: once committed, mail a METHOD:CANCEL .ics and
    tell the day's waitlist."""
    booking.mail_due = NotificationKind.BOOKING_CANCELLED
    deliver_after_commit(db)


def deliver_after_commit(db: Session) -> None:
    """Have due booking mails delivered once the current unit of work commits
    (for a caller that set ``mail_due`` itself)."""
    start = mail_delivery_start()
    if start is not None:
        on_commit(db, start)


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
    due = list(
        db.scalars(
            select(Booking)
            .where(Booking.mail_due.is_not(None))
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
    mine: list[tuple[Booking, NotificationKind]] = []
    to_send: list[tuple[Booking, NotificationKind, str]] = []
    with unit_of_work(db):  # one write transaction for the whole batch
        for booking in due:
            kind = NotificationKind(booking.mail_due)
            # Compare and clear: whoever clears the marker handles the change.
            cleared = db.execute(
                update(Booking)
                .where(Booking.id == booking.id, Booking.mail_due == kind)
                .values(mail_due=None)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not cleared:
                continue
            mine.append((booking, kind))
            key = f"{kind}:booking:{booking.id}"
            if _owes_mail(booking, kind, muted) and claim(db, key, booking.user_id):
                to_send.append((booking, kind, key))
    results = []
    for booking, kind, key in to_send:
        context, attachment = _booking_mail(booking, kind)
        results.append(
            (booking, kind, key, deliver(booking.user, kind, context, [attachment]))
        )
    failed = 0
    with unit_of_work(db):
        for booking, kind, key, sent in results:
            _finish_claim(db, key, sent)
            if not sent:
                failed += 1
                _retry_later(db, booking, kind, now)
    from ..checkin.services import desk_freed

    for booking, kind in mine:
        if kind == NotificationKind.BOOKING_CANCELLED and (
            booking.resource.kind in DAY_KINDS
        ):
            desk_freed(db, booking.location_id, booking.booked_on)
    return len(mine), failed


def _owes_mail(
    booking: Booking, kind: NotificationKind, muted: set[tuple[int, str]]
) -> bool:
    if kind == NotificationKind.BOOKING_CONFIRMED and (
        booking.status != BookingStatus.CONFIRMED
    ):
        # Held for payment: billing confirms (and marks it again) once paid.
        return False
    user = booking.user
    return user.is_active and bool(user.email) and (user.id, kind) not in muted


def _retry_later(
    db: Session, booking: Booking, kind: NotificationKind, now: datetime
) -> None:
    if booking.ends_at <= now:
        log.warning("gave up the %s mail of booking %s: it is over", kind, booking.id)
        return
    db.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.mail_due.is_(None))
        .values(mail_due=kind)
        .execution_options(synchronize_session=False)
    )


# --- idempotent sends ------------------------------------------------------


def claim(db: Session, key: str, user_id: int | None) -> bool:
    """Record that ``key`` is being sent; False if it was claimed before."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    with unit_of_work(db):
        # The row it returns, not the row count: with RETURNING (which
        # SQLAlchemy adds for the key) psycopg 3 reports no row count.
        claimed = db.execute(
            insert(SentNotification)
            .values(key=key, user_id=user_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(SentNotification.key)
        ).first()
    return claimed is not None


def _finish_claim(db: Session, key: str, sent: bool) -> None:
    with unit_of_work(db):
        if sent:
            row = db.scalar(select(SentNotification).where(SentNotification.key == key))
            row.sent_at = utcnow()
        else:
            # Let the next run try again.
            db.execute(delete(SentNotification).where(SentNotification.key == key))


def send_once(
    db: Session,
    key: str,
    user: User,
    kind: NotificationKind,
    context: dict,
    attachments: list[Attachment] | None = None,
) -> bool:
    """Send a mail at most once per ``key``; True if it went out now."""
    if not wants(db, user, kind) or not claim(db, key, user.id):
        return False
    sent = deliver(user, kind, context, attachments)
    _finish_claim(db, key, sent)
    return sent


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
        user = booking.user
        with force_locale(_locale_for(user)):
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
    from ..i18n import localdate

    with force_locale(_locale_for(user)):
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


# --- for billing (see docs/reports.md) -------------------------------------


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
    from ..i18n import localdate

    with force_locale(_locale_for(user)):
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
