from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base, UTCDateTime, utcnow


class OperatorModel(enum.StrEnum):
    """The operator models of the Meißen coworking strategy."""

    CLASSIC = "classic"
    COMMUTER_HUB = "commuter_hub"
    VILLAGE_CENTRE = "village_centre"
    RETREAT = "retreat"


class ResourceKind(enum.StrEnum):
    DESK = "desk"
    ROOM = "room"
    BOOTH = "booth"
    FLEX = "flex"


# Desks and flex seats are booked by the day or half day; rooms and booths by
# the hour.
DAY_KINDS = frozenset({ResourceKind.DESK, ResourceKind.FLEX})
HOUR_KINDS = frozenset({ResourceKind.ROOM, ResourceKind.BOOTH})


location_operators = Table(
    "location_operators",
    Base.metadata,
    Column(
        "location_id",
        ForeignKey("locations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class NetworkSettings(Base):
    """The one row describing the regional network (legal pages included)."""

    __tablename__ = "network_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="Landdesk")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(60), default="")
    imprint: Mapped[str] = mapped_column(Text, default="")
    privacy: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("horizon_days >= 1", name="horizon_positive"),
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    village: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    operator_model: Mapped[OperatorModel] = mapped_column(
        String(20), default=OperatorModel.CLASSIC
    )
    description: Mapped[str] = mapped_column(Text, default="")
    # {"mon": [["08:00", "18:00"]], ..., "sun": []}; see spaces.hours
    opening_hours: Mapped[dict] = mapped_column(JSON)
    horizon_days: Mapped[int] = mapped_column(Integer, default=30)
    # Members may cancel until this many hours before the start.
    cancel_cutoff_hours: Mapped[int] = mapped_column(Integer, default=0)
    # Where a full day splits into morning and afternoon, in local time.
    midday: Mapped[str] = mapped_column(String(5), default="13:00")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    resources: Mapped[list[Resource]] = relationship(
        back_populates="location",
        order_by="(Resource.position, Resource.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    operators: Mapped[list[User]] = relationship(secondary=location_operators)

    def __repr__(self) -> str:
        return f"<Location {self.slug}>"


class Resource(Base):
    __tablename__ = "resources"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        Index(None, "location_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ResourceKind] = mapped_column(String(8))
    # Seats of a flex area; people a room holds; 1 for a desk.
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Gross prices in cents (passes/billing); 0 means free and confirms at
    # once, except a half day's 0, which means "as a full day". ``prices``
    # is what each unit of this kind costs (the API's shape).
    price_day_cents: Mapped[int] = mapped_column(Integer, default=0)
    price_half_day_cents: Mapped[int] = mapped_column(Integer, default=0)
    price_hour_cents: Mapped[int] = mapped_column(Integer, default=0)
    # A fixed-desk membership this desk is assigned to (passes.services
    # assign_fixed_desk). It blocks others only while that pass is live, so
    # an ended membership frees the desk even before the column is cleared.
    fixed_pass_id: Mapped[int | None] = mapped_column(
        ForeignKey("passes.id", ondelete="SET NULL"), unique=True
    )

    location: Mapped[Location] = relationship(back_populates="resources")

    @property
    def seat_count(self) -> int:
        """Independently bookable units: the seats of a flex area, else one."""
        return self.capacity if self.kind == ResourceKind.FLEX else 1

    @property
    def is_day_bookable(self) -> bool:
        return self.kind in DAY_KINDS

    @property
    def prices(self) -> dict[str, int | None]:
        """Cents per day, half day and hour; None for a unit this kind is
        not booked in (desks and flex areas by the day, rooms and booths by
        the hour); 0 for free."""
        if self.kind in DAY_KINDS:
            return {
                "day": self.price_day_cents,
                "half_day": half_day_price_cents(self),
                "hour": None,
            }
        return {"day": None, "half_day": None, "hour": self.price_hour_cents}

    def __repr__(self) -> str:
        return f"<Resource {self.id} {self.kind} {self.name}>"


def half_day_price_cents(resource) -> int:
    """What half a day of a desk or flex area costs: the one place of the rule
    that a stored half-day price of 0 means "as much as a full day" (so a
    paid desk is never free by the half day). ``resource`` is anything with
    ``price_day_cents`` and ``price_half_day_cents``: a Resource, or
    bookings.statements.LockedResource. The answers' ``prices`` and the price
    a booking is charged (passes.services.prices) both read it."""
    return resource.price_half_day_cents or resource.price_day_cents


class Closure(Base):
    """A location (resource_id empty) or one resource closed for whole days."""

    __tablename__ = "closures"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ordered"),
        Index(None, "location_id", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    resource_id: Mapped[int | None] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE")
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # inclusive
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    resource: Mapped[Resource | None] = relationship()

    # Set by spaces.services.add_closure: the bookings it cancelled.
    cancelled_booking_ids = ()
