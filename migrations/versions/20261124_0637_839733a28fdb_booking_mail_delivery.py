"""bookings.mail_due: booking mails are delivered by polling, not in the request

Revision ID: 839733a28fdb
Revises: 5d3595bf237f
Create Date: 2026-11-24 06:37:03.435159
"""

from alembic import op
import sqlalchemy as sa


revision = '839733a28fdb'
down_revision = '5d3595bf237f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and without a default: no table rewrite, existing bookings owe
    # no mail. The partial index holds only the few rows whose mail is due,
    # in id order (the delivery sends the oldest first).
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mail_due', sa.String(length=20), nullable=True))
        batch_op.create_index(
            'ix_bookings_mail_due',
            ['id'],
            unique=False,
            sqlite_where=sa.text('mail_due IS NOT NULL'),
            postgresql_where=sa.text('mail_due IS NOT NULL'),
        )


def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_mail_due')
        batch_op.drop_column('mail_due')
