"""Self-declared, optional profile data: reported only in aggregate."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class TargetGroup(enum.StrEnum):
    COMMUTER = "commuter"
    FREELANCER = "freelancer"
    EMPLOYEE = "employee"
    STARTUP = "startup"
    CRAFT = "craft"


class MemberProfile(Base):
    __tablename__ = "member_profiles"
    __table_args__ = (
        CheckConstraint(
            "commute_km IS NULL OR (commute_km >= 0 AND commute_km <= 500)",
            name="commute_range",
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    target_group: Mapped[TargetGroup | None] = mapped_column(String(16))
    home_municipality: Mapped[str | None] = mapped_column(String(120))
    # One way, to the usual workplace the coworking day replaces.
    commute_km: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
