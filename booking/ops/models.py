"""One row per periodic job: its lease and its last run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class JobState(Base):
    """Who runs a job now (the lease) and how its last run went.

    Several ``jobs run`` processes may share a database: the one whose UPDATE
    takes an expired lease runs the job, the others skip it.
    """

    __tablename__ = "job_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "ok", "failed" or "skipped"
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_message: Mapped[str] = mapped_column(Text, default="")
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
