"""sent_notifications carries queued mails: every outgoing mail is durable
and retried (booking.outbox)

Revision ID: 7d2e4a9c1b36
Revises: 5b9e3c7d2f14
Create Date: 2026-12-07 06:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '7d2e4a9c1b36'
down_revision = '5b9e3c7d2f14'
branch_labels = None
depends_on = None

QUEUED = 'sent_at IS NULL AND failed_at IS NULL AND body_text IS NOT NULL'


def upgrade() -> None:
    # Nullable: existing rows (booking mails, sent reminders) carry no message.
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('subject', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('body_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=True))
        batch_op.create_index(
            'ix_sent_notifications_queued',
            ['next_attempt_at'],
            unique=False,
            sqlite_where=sa.text(QUEUED),
            postgresql_where=sa.text(QUEUED),
        )


def downgrade() -> None:
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_sent_notifications_queued')
        batch_op.drop_column('body_html')
        batch_op.drop_column('body_text')
        batch_op.drop_column('subject')
        batch_op.drop_column('recipient')
