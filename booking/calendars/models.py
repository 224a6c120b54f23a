"""Calendar feeds (secret URLs) and room blocks imported from other calendars."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class CalendarFeed(Base):
    """A secret feed URL: a member's bookings, or one location's for operators.

    The URL carries ``<id>.<hmac>``; the HMAC covers the id and ``salt`` under
    the app secret, so the database alone does not reveal working URLs and a
    revoked row (or a new salt) ends every copy of the old URL.
    """

    __tablename__ = "calendar_feeds"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Empty for the personal feed; set for an operator's per-location feed.
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CalendarImport(Base):
    """An external calendar (URL or uploaded file) that blocks one room."""

    __tablename__ = "calendar_imports"
    __table_args__ = (Index(None, "location_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class RoomBlock(Base):
    """One occurrence of an imported event: the room is taken then.

    (import, uid, occurrence) is unique, so re-importing updates rows instead of
    adding new ones.
    """

    __tablename__ = "room_blocks"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ordered"),
        UniqueConstraint("import_id", "uid", "occurrence"),
        Index(None, "resource_id", "starts_at"),
        Index(None, "location_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_imports.id", ondelete="CASCADE")
    )
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE")
    )
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE")
    )
    uid: Mapped[str] = mapped_column(String(255))
    # The occurrence's original start (RECURRENCE-ID), ISO 8601 UTC.
    occurrence: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(255), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
