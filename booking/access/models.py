from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base, UTCDateTime, utcnow
from ..spaces.models import Location, Resource


class DoorKind(enum.StrEnum):
    LANDDESK = "landdesk"  # our reference controller, signed protocol
    SHELLY = "shelly"
    TASMOTA = "tasmota"
    NUKI = "nuki"


VENDOR_KINDS = frozenset({DoorKind.SHELLY, DoorKind.TASMOTA, DoorKind.NUKI})


class Channel(enum.StrEnum):
    """How an unlock was asked for."""

    APP = "app"  # the person's own phone: page button or API
    OPERATOR = "operator"  # an operator opening for themselves
    REMOTE = "remote"  # an operator opening from the console for someone
    PIN = "pin"  # the keypad at the door (reported by the controller)
    DEVICE = "device"  # state and events the door reports by itself


class Result(enum.StrEnum):
    OPENED = "opened"
    DENIED = "denied"  # the access rule said no (403)
    REFUSED = "refused"  # the door said no (502)
    TIMEOUT = "timeout"  # no answer in time (504)
    UNAVAILABLE = "unavailable"  # broker not reachable (503)
    RATE_LIMITED = "rate_limited"  # too many attempts (429)
    PIN_ACCEPTED = "pin_accepted"
    PIN_REFUSED = "pin_refused"
    PIN_LOCKED_OUT = "pin_locked_out"
    EVENT = "event"  # opened/closed/tamper/held open/online/offline


class AlertKind(enum.StrEnum):
    OFFLINE = "offline"
    BATTERY_LOW = "battery_low"
    HELD_OPEN = "held_open"
    PIN_FAILURES = "pin_failures"
    TAMPER = "tamper"


door_resources = Table(
    "door_resources",
    Base.metadata,
    Column("door_id", ForeignKey("doors.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "resource_id", ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Door(Base):
    """A door of a location. Without resources it serves the whole location.

    ``secret_enc`` is the door's signing secret, encrypted with a key derived
    from SECRET_KEY (access.secrets); vendor doors have none. The status
    columns mirror what the door last reported over MQTT.
    """

    __tablename__ = "doors"
    __table_args__ = (
        CheckConstraint("open_s BETWEEN 1 AND 60", name="open_s_range"),
        Index(None, "location_id"),
        Index(None, "kind", "device_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[DoorKind] = mapped_column(String(16))
    # Vendor devices: the MQTT topic prefix (Shelly), topic (Tasmota) or id (Nuki).
    device_id: Mapped[str | None] = mapped_column(String(64))
    secret_enc: Mapped[str | None] = mapped_column(Text)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_s: Mapped[int] = mapped_column(Integer, default=5)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Reported state: None until the door has said anything.
    online: Mapped[bool | None] = mapped_column(Boolean)
    online_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_open: Mapped[bool | None] = mapped_column(Boolean)
    battery: Mapped[int | None] = mapped_column(Integer)
    firmware: Mapped[str | None] = mapped_column(String(64))

    location: Mapped[Location] = relationship()
    resources: Mapped[list[Resource]] = relationship(
        secondary=door_resources, order_by="Resource.id"
    )

    @property
    def is_vendor(self) -> bool:
        return self.kind in VENDOR_KINDS

    @property
    def mqtt_id(self) -> str:
        """The id in the door's MQTT topics (and its broker user name)."""
        return str(self.id)

    def __repr__(self) -> str:
        return f"<Door {self.id} {self.kind} {self.name}>"


class AccessEvent(Base):
    """The audit log: every unlock attempt and every event a door reports.

    ``event_id`` is the id a door gives its events; the unique index makes
    storing one twice impossible (several app processes, QoS 1 redelivery,
    events a controller re-sends after a reconnect).
    """

    __tablename__ = "access_events"
    __table_args__ = (
        Index(None, "door_id", "occurred_at"),
        Index(None, "location_id", "occurred_at"),
        Index(None, "user_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    door_id: Mapped[int] = mapped_column(ForeignKey("doors.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL")
    )
    channel: Mapped[Channel] = mapped_column(String(16))
    # The unlock outcome, or the kind of event the door reported.
    result: Mapped[Result] = mapped_column(String(16))
    # opened, closed, tamper, ... for device events; None for attempts.
    event_type: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(200))
    command_id: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Made while the door had no connection, reported later.
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    door: Mapped[Door] = relationship()
    user: Mapped[User | None] = relationship()

    @classmethod
    def for_door(cls, door: Door, **values: Any) -> AccessEvent:
        return cls(door_id=door.id, location_id=door.location_id, **values)


class DoorAlert(Base):
    """Something an operator must look at; open until resolved."""

    __tablename__ = "door_alerts"
    __table_args__ = (Index(None, "door_id", "kind", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    door_id: Mapped[int] = mapped_column(ForeignKey("doors.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(300), default="")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    door: Mapped[Door] = relationship()


class DoorPin(Base):
    """The offline PIN key of a booking: its window and its index among the
    location's PINs with that window (so no two bookings share a PIN).

    Rows stay after revocation: a key on the doors' revocation lists must
    never be given out again. ``booking_id`` is NULL once the booking is gone.
    """

    __tablename__ = "door_pins"
    __table_args__ = (
        UniqueConstraint("location_id", "start_slot", "slots", "pin_index"),
        Index(None, "booking_id"),
        Index(None, "ends_at", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL")
    )
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    # The window in 30-minute slots since the epoch (devices.pins).
    start_slot: Mapped[int] = mapped_column(Integer)
    slots: Mapped[int] = mapped_column(Integer)
    pin_index: Mapped[int] = mapped_column(Integer)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # cancelled, suspended, closed, changed (new window) or gone (deleted).
    revoked_reason: Mapped[str | None] = mapped_column(String(16))


class DoorPairing(Base):
    """A pairing code of a door: the controller trades it once for its
    configuration (access.pairing). Only the code's SHA-256 is stored."""

    __tablename__ = "door_pairings"
    __table_args__ = (Index(None, "door_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    door_id: Mapped[int] = mapped_column(ForeignKey("doors.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
