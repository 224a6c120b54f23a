"""Bookings for a guest without an account: the guest's name and e-mail

Revision ID: 5b9e3c7d2f14
Revises: 10b233ad9cf3
Create Date: 2026-12-07 06:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '5b9e3c7d2f14'
down_revision = '10b233ad9cf3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.add_column(sa.Column('guest_name', sa.String(length=120), nullable=True))
        batch.add_column(sa.Column('guest_email', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bookings') as batch:
        batch.drop_column('guest_email')
        batch.drop_column('guest_name')
