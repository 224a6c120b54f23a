"""Domain events: how a lower domain tells the higher ones what happened.

Domains form a stack (spaces < bookings < passes < billing; notifications,
checkin, access and insight listen, see docs/architecture.md). A lower domain
never imports a higher one; it sends one of these blinker signals instead,
as Flask sends its own (``request_finished``), and the listeners connect
their receivers in ``create_app``, in one place.

Each signal has one moment, written beside it:

- *after the commit* (``send_after_commit``, or sent once the sender's units
  have committed): the change is durable; the receivers do their side effects
  (wake the mail delivery, tell the waitlist or a door).
- *inside the unit of work* (``signal.send`` from the service): receivers
  write in the same transaction (take a credit, hold a payment) and may raise
  a ``DomainError`` that undoes the whole change.

Receivers take the sender plus keyword arguments and always get ``db``, the
session of the unit of work that sent the signal.
"""

from __future__ import annotations

import functools
from typing import Any

from blinker import Namespace, Signal
from sqlalchemy.orm import Session

from .db import on_commit
from .errors import DomainError

_signals = Namespace()

# --- after the commit -------------------------------------------------------

# A booking is confirmed: booked free or from a credit (create_booking), or
# its payment came in (billing). Sender: the Booking.
booking_confirmed = _signals.signal("booking-confirmed")
# A booking was cancelled: by its holder or an operator (cancel_booking), as
# an unchecked no-show (checkin), by an account deletion (privacy).
# Sender: the Booking.
booking_cancelled = _signals.signal("booking-cancelled")
# An invoice (or cancellation invoice) was issued, after its commit.
# Sender: the Invoice.
invoice_issued = _signals.signal("invoice-issued")
# A membership renewal could not be charged. Sender: the Pass; keyword ``key``
# (dedupes the mail).
renewal_failed = _signals.signal("renewal-failed")
# An unlock attempt was written to the audit log (access): allowed or not,
# answered by the door or not. Sender: the AccessEvent; keyword ``wait_s``,
# how long the door took to answer (None when it was not asked).
unlock_audited = _signals.signal("unlock-audited")

# --- when it is refused -------------------------------------------------------

# A booking request was refused: a DomainError left create_booking (sent by
# ``announces_refusal``). Sender: the error.
booking_refused = _signals.signal("booking-refused")

# A mail was queued (outbox.queue_mail) by any domain: have the mail delivery
# send it. Sender: None.
mail_queued = _signals.signal("mail-queued")

# --- after the mail delivery ------------------------------------------------

# A desk-day booking's cancellation has been handled by the booking-mail
# delivery (notifications), once per cancellation and in whichever process
# delivers mails, so that the waitlist's mails never hold up a request.
# Sender: the Booking.
desk_freed = _signals.signal("desk-freed")

# --- inside the unit of work ------------------------------------------------

# A new booking row was written and is about to commit: settle its price
# (billing: a credit from passes, else a payment hold). Keywords: resource,
# location, holder, now, payment_method (the one asked for, or None). A
# receiver may raise (MembershipSuspended, InvalidInput).
booking_placed = _signals.signal("booking-placed")
# An operator closes a location or one resource for whole days (spaces).
# Sender: the Closure; keywords ``actor`` and ``now``. Bookings cancels the
# live bookings the closure covers, each through its one cancel path, and
# returns their ids.
closure_added = _signals.signal("closure-added")
# A live booking is being cancelled in this unit: return its credit or refund
# its payment (billing), withdraw its door PIN (access). Keywords: actor, now.
booking_released = _signals.signal("booking-released")
# An order became a sale (billing): its Stripe payment succeeded, or it was
# placed to be paid by bank transfer on invoice or on site. Sender: the
# Order; keyword ``now``. Invoicing issues the order's invoice in this unit,
# once per order, so a sale never commits without its invoice number.
sale_made = _signals.signal("sale-made")
# A sale is taken back in this unit (billing): refunded in full or in part, or
# cancelled before it was paid. Sender: the Order; keywords ``now`` and
# ``amount_cents`` (gross, what is taken back). Invoicing issues the
# cancellation invoice.
sale_reversed = _signals.signal("sale-reversed")
# An operator lowers a resource's capacity (spaces). Keyword: capacity, the
# new one. Bookings raises InvalidInput while a seat to be removed is booked.
seats_removed = _signals.signal("seats-removed")


# --- questions a higher domain answers, inside the unit of work ------------
#
# A lower domain needs a fact that a higher one keeps: it asks with ``ask``
# and the receivers answer (blinker returns what each receiver returns).

# Which of these resources are a member's fixed desk now (passes)? Sender:
# None; keyword ``resources``, objects with ``id`` and ``fixed_pass_id``.
# Answers {resource id: the holder's user id}.
fixed_desks_asked = _signals.signal("fixed-desks-asked")
# A booking found its desk or its person taken: release the unpaid payment
# holds that ran out on that resource or of that person (billing), so that
# freeing them does not depend on the expire-holds job. Sender: None;
# keywords ``resource_id``, ``user_id``, ``now``. Answers how many it released.
expired_holds_asked = _signals.signal("expired-holds-asked")


def ask(signal: Signal, **kwargs: Any) -> list[Any]:
    """The answers of ``signal``'s receivers (empty when none listens)."""
    return [answer for _, answer in signal.send(None, **kwargs)]
def announces_refusal(signal: Signal):
    """Decorate a service so that a DomainError it raises is sent as
    ``signal`` (sender: the error) before it goes on up."""

    def decorator(service):
        @functools.wraps(service)
        def announcing(*args, **kwargs):
            try:
                return service(*args, **kwargs)
            except DomainError as error:
                signal.send(error)
                raise

        return announcing

    return decorator


def send_after_commit(db: Session, signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` once the current unit of work has committed (never on
    a rollback)."""
    on_commit(db, lambda: signal.send(sender, db=db, **kwargs))
