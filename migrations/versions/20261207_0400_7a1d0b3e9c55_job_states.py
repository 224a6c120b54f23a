"""Job states: the lease and last run of each periodic job

Revision ID: 7a1d0b3e9c55
Revises: e1f0c2a7d455
Create Date: 2026-12-07 03:00:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = '7a1d0b3e9c55'
down_revision = 'e1f0c2a7d455'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_states',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=True),
        sa.Column('lease_until', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('next_run_at', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_started_at', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_finished_at', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_outcome', sa.String(length=16), nullable=True),
        sa.Column('last_message', sa.Text(), nullable=False),
        sa.Column('last_duration_ms', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_states')),
    )


def downgrade() -> None:
    op.drop_table('job_states')
