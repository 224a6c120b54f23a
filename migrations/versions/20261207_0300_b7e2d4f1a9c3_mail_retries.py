"""sent_notifications: attempts, retry time, failure (mails retried with backoff)

Revision ID: b7e2d4f1a9c3
Revises: c3b41a1c532c
Create Date: 2026-12-07 03:00:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = 'b7e2d4f1a9c3'
down_revision = 'c3b41a1c532c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # All nullable or with a server default: no table rewrite. Rows written
    # before have no retry time, so a claim left by a crashed sender stays as
    # it was (not sent twice).
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booking_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('next_attempt_at', booking.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', booking.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=200), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_sent_notifications_booking_id'), ['booking_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_sent_notifications_failed_at'), ['failed_at'], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_sent_notifications_booking_id_bookings'),
            'bookings',
            ['booking_id'],
            ['id'],
            ondelete='CASCADE',
        )


def downgrade() -> None:
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_sent_notifications_booking_id_bookings'), type_='foreignkey'
        )
        batch_op.drop_index(batch_op.f('ix_sent_notifications_failed_at'))
        batch_op.drop_index(batch_op.f('ix_sent_notifications_booking_id'))
        batch_op.drop_column('last_error')
        batch_op.drop_column('failed_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('kind')
        batch_op.drop_column('booking_id')
