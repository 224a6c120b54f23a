"""Offline payments (bank transfer, cash, card on site) and due dates of orders

Revision ID: 9d2e4b6a1c30
Revises: 5e9a2c7b1d43
Create Date: 2026-12-07 06:10:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = '9d2e4b6a1c30'
down_revision = '5e9a2c7b1d43'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch.add_column(
            sa.Column('reminded_at', booking.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        'offline_payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'amount_cents > 0', name=op.f('ck_offline_payments_amount_positive')
        ),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'],
            name=op.f('fk_offline_payments_order_id_orders'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['users.id'],
            name=op.f('fk_offline_payments_recorded_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_payments')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_offline_payments_dedupe_key')),
    )
    with op.batch_alter_table('offline_payments') as batch:
        batch.create_index(batch.f('ix_offline_payments_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_table('offline_payments')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('reminded_at')
        batch.drop_column('due_on')
