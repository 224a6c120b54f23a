"""Imports every domain's models so that Base.metadata knows all tables."""

from .access.models import AccessEvent, Door, DoorAlert, door_resources  # noqa: F401
from .auth.models import Role, SessionKind, User, UserSession  # noqa: F401
from .billing.models import (  # noqa: F401
    BillingCustomer,
    Order,
    Payment,
    StripeEvent,
)
from .bookings.models import Booking, BookingSlot, BookingStatus, DayPart  # noqa: F401
from .calendars.models import CalendarFeed, CalendarImport, RoomBlock  # noqa: F401
from .checkin.models import CheckinPolicy, WaitlistEntry  # noqa: F401
from .insight.models import MemberProfile  # noqa: F401
from .invoicing.models import (  # noqa: F401
    Invoice,
    InvoiceCounter,
    InvoicedOrder,
    InvoiceLine,
    Issuer,
    IssuerLocation,
)
from .notifications.models import NotificationOptOut, SentNotification  # noqa: F401
from .ops.models import JobState  # noqa: F401
from .passes.models import (  # noqa: F401
    Company,
    CompanyMember,
    CreditEntry,
    Pass,
    Plan,
)
from .spaces.models import (  # noqa: F401
    Closure,
    Location,
    NetworkSettings,
    OperatorModel,
    Resource,
    ResourceKind,
    location_operators,
)
