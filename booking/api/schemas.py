"""Requests and answers of /api/v1: the one description of the contract.

Request models (``Schema``) check shapes and types; the services keep the
business rules (ranges, opening hours, who may do what) and their messages,
which the ``messages`` maps repeat for values of the wrong type.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask_babel import lazy_gettext as _l
from pydantic import Field, create_model

from devices.messages import MAX_OPEN_S

from ..billing.schemas import BankTransfer, PaymentMethodName
from ..notifications.models import NotificationKind
from .contract import MAX_ID, Answer, Day, Instant, IsoInstant, Schema
from .schemas_bookings import GuestAnswer, GuestInput, Refusal
from .schemas_spaces import COUNT_FIELD, PRICES_MESSAGE, Count, Prices, PricesInput

Id = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]
DateText = Annotated[str, Field(json_schema_extra={"format": "date"})]
InstantText = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 with an offset",
    ),
]
Interval = Annotated[
    list[Annotated[str, Field(pattern=r"^([01][0-9]|2[0-4]):[0-5][0-9]$")]],
    Field(min_length=2, max_length=2),
]
Kind = Literal["desk", "room", "booth", "flex"]
OperatorModel = Literal["classic", "commuter_hub", "village_centre", "retreat"]
DoorKind = Literal["landdesk", "shelly", "tasmota", "nuki"]

_TEXT = _l("This must be text.")
_NUMBER = _l("This must be a number.")
_WHOLE = _l("This must be a whole number.")
_YES_NO = _l("This must be true or false.")


def rule(default=None, *, description: str | None = None, **keywords):
    """A rule the service checks (with its own message), documented here."""
    return Field(default, description=description, json_schema_extra=keywords)


# --- requests --------------------------------------------------------------


class Credentials(Schema):
    email: str = ""
    password: str = ""


class OpeningHours(Schema):
    """Intervals of local time per weekday; 24:00 ends a day at midnight;
    an empty or missing day is closed."""

    mon: list[Interval] = []
    tue: list[Interval] = []
    wed: list[Interval] = []
    thu: list[Interval] = []
    fri: list[Interval] = []
    sat: list[Interval] = []
    sun: list[Interval] = []


class LocationInput(Schema):
    """A new location needs name, slug, address, lat and lon."""

    messages = {
        "name": _TEXT,
        "slug": _TEXT,
        "village": _TEXT,
        "address": _TEXT,
        "description": _TEXT,
        "timezone": _TEXT,
        "midday": _TEXT,
        "lat": _NUMBER,
        "lon": _NUMBER,
        "horizon_days": _WHOLE,
        "cancel_cutoff_hours": _WHOLE,
        "operator_model": _l("Unknown operator model."),
        "opening_hours": _l("Opening hours must map weekdays to lists of intervals."),
        "is_active": _YES_NO,
    }
    name: str | None = rule(maxLength=120)
    slug: str | None = rule(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    village: str = ""
    address: str | None = None
    lat: float | None = rule(minimum=-90, maximum=90)
    lon: float | None = rule(minimum=-180, maximum=180)
    timezone: str = "Europe/Berlin"
    operator_model: OperatorModel = "classic"
    description: str = ""
    opening_hours: OpeningHours | None = None
    horizon_days: int = rule(30, minimum=1, maximum=730)
    cancel_cutoff_hours: int = rule(0, minimum=0, maximum=720)
    midday: str = rule("13:00", description="where morning ends")
    is_active: bool = True


class Operators(Schema):
    messages = {"emails": _l("emails must be a list of e-mail addresses.")}
    emails: list[str]


class ResourceInput(Schema):
    messages = {
        "name": _TEXT,
        "kind": _l("The kind is one of desk, room, booth, flex."),
        "capacity": _WHOLE,
        "tags": _l("Tags are a list of words."),
        "description": _TEXT,
        "position": _WHOLE,
        "is_active": _YES_NO,
        "prices": PRICES_MESSAGE,
        "count": _l("Between 1 and 100 at once."),
    }
    name: str | None = None
    kind: Kind | None = None
    capacity: int = rule(1, minimum=1, description="seats of a flex area")
    tags: list[str] = []
    description: str = ""
    position: int = 0
    is_active: bool = True
    prices: PricesInput | None = None
    count: Count | None = COUNT_FIELD


class ClosureInput(Schema):
    starts_on: DateText
    ends_on: DateText | None = Field(None, description="inclusive; defaults to start")
    resource_id: Id | None = Field(None, description="omit to close the location")
    reason: str = ""


class DateQuery(Schema):
    messages = {"date": _l("Give the date as ?date=YYYY-MM-DD.")}
    date: DateText


class WaitlistQuery(Schema):
    # a missing date is the service's message (parse_date)
    date: DateText | None = None


class OptionalDateQuery(Schema):
    date: DateText | None = None


class BookingInput(Schema):
    """A desk or flex seat for a date (full day, or part am/pm), or a room or
    booth from start to end (ISO 8601 with offset, 30-minute steps).
    Operators may book for a member of their location with user_id or
    member_email."""

    messages = {
        "resource_id": _l("Choose a desk or room."),
        "user_id": _l("user_id must be a number."),
        "part": _l("The part of a day is am or pm (or none for the full day)."),
        "guest": _l("A guest has a name and an e-mail address."),
        "dates": _l("Give 1 to 31 dates as YYYY-MM-DD."),
    }
    resource_id: Id
    date: DateText | None = None
    part: Literal["am", "pm", "full"] | None = None
    start: InstantText | None = None
    end: InstantText | None = None
    user_id: Id | None = None
    member_email: str | None = None
    guest: GuestInput | None = Field(
        None, description="book for a guest without an account (issue 17)"
    )
    dates: list[DateText] | None = Field(
        None,
        min_length=1,
        max_length=31,
        description="several days of a desk at once instead of date: answers "
        "201 with bookings and refused days, or 409 when none was booked",
    )
    payment_method: PaymentMethodName | None = Field(
        None, description="how a paid booking is paid; 400 if the location "
        "does not offer it (omitted: chosen later on the order page)"
    )


class BookingScope(Schema):
    messages = {"scope": _l("scope is all, upcoming or past.")}
    scope: Literal["all", "upcoming", "past"] = "all"


class UnlockInput(Schema):
    remote: bool = Field(False, description="an operator opens from afar")


class DoorInput(Schema):
    messages = {
        "name": _TEXT,
        "open_s": _l("Open for 1 to %(n)d seconds.", n=MAX_OPEN_S),
        "resource_ids": _l("resource_ids must be numbers."),
        "is_active": _YES_NO,
    }
    name: str | None = None
    kind: DoorKind = "landdesk"
    device_id: str | None = Field(
        None,
        description="vendor devices: Shelly topic prefix, Tasmota topic or Nuki id",
    )
    resource_ids: list[Id] = Field([], description="empty: the whole location")
    open_s: int = rule(5, minimum=1, maximum=MAX_OPEN_S)
    is_active: bool = True


class AccessLogQuery(Schema):
    location_id: str | None = None
    door_id: str | None = None
    channel: str | None = None
    result: str | None = None
    user: str | None = None
    since: str | None = None
    until: str | None = None
    format: Literal["json", "csv"] | None = None


class DayPassRequest(Schema):
    messages = {"plan_id": _l("Choose a day pass."), "date": _TEXT}
    plan_id: Id = Field(description="a plan of kind day_pass")
    date: DateText | None = None
    part: Literal["am", "pm"] | None = Field(
        None, description="half-day passes only: the morning or the afternoon"
    )
    payment_method: PaymentMethodName | None = Field(
        None, description="400 if the plan's location does not offer it"
    )


class CreditsQuery(Schema):
    location_id: int | None = Field(None, description="only passes valid there")
    date: DateText | None = Field(None, description="the month to count (today)")


class CalendarImportInput(Schema):
    messages = {"ics": _l("ics is the calendar file as text.")}
    name: str = ""
    url: str | None = Field(None, description="an .ics address")
    ics: str | None = Field(None, description="the calendar file as text")


class CalendarRefreshInput(Schema):
    messages = {"ics": _l("ics is the calendar file as text.")}
    import_id: Id | None = None
    ics: str | None = Field(None, description="replaces that uploaded file")


_KINDS_MESSAGE = _l('Send {"<kind>": true|false} for the known kinds.')
NotificationChoice = create_model(
    "NotificationChoice",
    __base__=Schema,
    **{str(kind): (bool | None, None) for kind in NotificationKind},
)
NotificationChoice.messages = {"*": _KINDS_MESSAGE}
NotificationChoice.error_field = "notifications"


NotificationChoices = create_model(
    "NotificationChoices",
    __base__=Answer,
    **{str(kind): (bool, ...) for kind in NotificationKind},
)


class AccountDeletion(Schema):
    messages = {"password": _l("Give your password.")}
    password: str


class MemberQuery(Schema):
    email: str = ""


# --- answers ---------------------------------------------------------------


class Token(Answer):
    token: str
    token_type: Literal["Bearer"]


class Me(Answer):
    id: int
    email: str
    name: str
    roles: list[Literal["member", "operator", "admin"]]
    locale: str | None
    calendar_url: str = Field(
        description="secret iCalendar feed of your bookings; "
        "POST /me/calendar/revoke replaces it"
    )


class Location(Answer):
    id: int
    slug: str
    name: str
    village: str | None
    address: str
    lat: float
    lon: float
    timezone: str
    operator_model: str
    opening_hours: dict[str, list[list[str]]]
    horizon_days: int
    cancel_cutoff_hours: int
    midday: str
    is_active: bool
    description: str | None
    free_desks_today: int | None = Field(
        None,
        description="in lists: desk and flex seats free for the rest of today; "
        "null when closed",
    )


class OperatorList(Answer):
    emails: list[str]


class Resource(Answer):
    id: int
    location_id: int
    name: str
    kind: Kind
    capacity: int
    tags: list[str]
    description: str | None
    is_active: bool
    prices: Prices


class Closure(Answer):
    id: int
    location_id: int
    resource_id: int | None
    starts_on: Day
    ends_on: Day
    reason: str | None


class Period(Answer):
    start: Instant
    end: Instant


class BookedPeriod(Answer):
    start: Instant
    end: Instant
    seats: int


class ResourceDay(Answer):
    id: int
    name: str
    kind: Kind
    capacity: int
    tags: list[str]
    closed: bool
    seats: int
    free_seats: dict[str, int] | None = Field(
        description="desks and flex areas: free seats for full, am, pm "
        "(parts still ahead)"
    )
    fixed_desk: bool = Field(
        description="a member's fixed desk: bookable only by that member"
    )
    prices: Prices
    free: list[Period]
    booked: list[BookedPeriod]


class Availability(Answer):
    location_id: int
    date: Day
    timezone: str
    open: bool
    closed_reason: str | None
    opening: list[Period]
    half_days: bool
    resources: list[ResourceDay]


class Payment(Answer):
    """What a paid booking costs and how it is paid. Held for a Stripe
    payment, it is confirmed when Stripe reports the payment and released when
    the hold expires; invoice and on-site bookings are confirmed at once (or
    held until the transfer is recorded, as the location decides)."""

    order_id: int
    amount_cents: int = Field(description="gross, VAT included")
    vat_cents: int
    currency: str
    hold_expires_at: Instant | None
    checkout: str = Field(description="POST here for the payment_url")
    payment_url: str | None = Field(
        None, description="Stripe Checkout; send the person there"
    )
    payment_method: PaymentMethodName = "stripe"
    due_date: Day | None = Field(None, description="invoice and on_site")
    bank: BankTransfer | None = Field(None, description="invoice: where to pay")


class Member(Answer):
    id: int
    name: str
    email: str


class Booking(Answer):
    id: int
    resource_id: int
    location_id: int
    user_id: int | None
    date: Day
    part: Literal["full", "am", "pm", "hours"]
    seat: int
    start: Instant
    end: Instant
    status: Literal["pending_payment", "confirmed", "cancelled", "expired"]
    created_at: Instant
    cancelled_at: Instant | None
    payment: Payment | None = Field(
        None,
        description="only in the answer to POST /bookings when the booking "
        "is paid: held for payment (pending_payment), or confirmed on an open "
        "invoice or for paying on site",
    )
    member: Member | None = Field(None, description="in a location's day list")
    checked_in_at: Instant | None = Field(None, description="after check-in")
    guest: GuestAnswer | None = Field(description="null unless booked for a guest")


class BookingSeries(Answer):
    """The answer to POST /bookings with dates: the days booked and the days
    refused (a 409 carries the same refused list when none was booked)."""

    bookings: list[Booking]
    refused: list[Refusal]


class DayPassPayment(Answer):
    order_id: int
    status: Literal["pending", "paid", "cancelled", "refunded"]
    amount_cents: int
    vat_cents: int
    currency: str
    checkout: str = Field(description="POST here for the payment_url")
    payment_url: str | None = None
    payment_method: PaymentMethodName = "stripe"
    due_date: Day | None = Field(None, description="invoice and on_site")
    bank: BankTransfer | None = Field(None, description="invoice: where to pay")


class DayPass(Answer):
    id: int
    plan_id: int
    name: str
    date: Day
    part: Literal["full", "am", "pm"]
    location_id: int | None = Field(description="null: every location")
    status: Literal["pending", "active", "cancelled", "expired"]
    payment: DayPassPayment | None


class Credit(Answer):
    pass_id: int
    name: str
    kind: Literal["pack", "membership", "company", "day_pass"]
    remaining_days: int | None = Field(
        description="this month (packs: in total); null: unlimited"
    )
    room_minutes_left: int | None
    standing: Literal["active", "past_due_in_grace", "suspended", "none"]
    valid_until: Day | None
    company: str | None
    cancel_at_period_end: bool


class Door(Answer):
    id: int = Field(description="also the door's MQTT id")
    location_id: int
    name: str
    kind: DoorKind
    online: bool | None
    is_open: bool | None
    can_open: bool | None = Field(None, description="the caller, now")
    device_id: str | None = None
    resource_ids: list[int] | None = None
    open_s: int | None = None
    is_active: bool | None = None
    online_since: IsoInstant | None = None
    last_seen_at: IsoInstant | None = None
    battery: int | None = None
    firmware: str | None = None
    secret_rotated_at: IsoInstant | None = None
    secret: str | None = Field(
        None,
        description="64 hex characters; only in the answer that creates a "
        "landdesk door",
    )
    pin: str | None = None
    pin_valid_from: IsoInstant | None = None
    pin_valid_until: IsoInstant | None = None


class DoorSecret(Answer):
    id: int
    secret: str


class Unlocked(Answer):
    status: Literal["opened"]
    event_id: int


class AccessEvent(Answer):
    id: int
    occurred_at: IsoInstant
    door_id: int | None
    location_id: int | None
    user_id: int | None
    user_email: str | None
    booking_id: int | None
    channel: str
    result: str
    event: str | None
    reason: str | None
    command_id: str | None
    offline: bool | None


class CalendarUrl(Answer):
    calendar_url: str


class ImportResult(Answer):
    added: int
    updated: int
    removed: int
    unchanged: int
    conflicting_booking_ids: list[int]


class CalendarImport(Answer):
    id: int
    location_id: int
    resource_id: int | None
    name: str
    url: str | None
    imported_at: Instant | None
    result: ImportResult | None = None


class WaitlistEntry(Answer):
    location_id: int
    date: Day


class DayOccupancy(Answer):
    date: Day
    occupancy: float


class WeekdayOccupancy(Answer):
    weekday: str
    occupancy: float


class HourBookings(Answer):
    hour: int
    bookings_per_week: float


class Insight(Answer):
    location_id: int
    today: Day
    seats: int
    occupancy_today: float
    week: list[DayOccupancy]
    month: list[DayOccupancy]
    by_weekday: list[WeekdayOccupancy]
    by_hour: list[HourBookings]
    no_show_rate: float | None
    checked_bookings: int
    active_members: int
    new_members: int
