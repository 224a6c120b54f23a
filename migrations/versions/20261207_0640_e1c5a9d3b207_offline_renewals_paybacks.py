"""Memberships paid by transfer or on site (one order per period), money paid
back by hand, and how much of each sale was reversed

Revision ID: e1c5a9d3b207
Revises: 7d2e4a9c1b36
Create Date: 2026-12-07 06:40:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = 'e1c5a9d3b207'
down_revision = '7d2e4a9c1b36'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('period_starts_on', sa.Date(), nullable=True))
        batch.add_column(
            sa.Column('reversed_cents', sa.Integer(), server_default='0', nullable=False)
        )
        batch.create_unique_constraint(
            batch.f('uq_orders_pass_id_period_starts_on'), ['pass_id', 'period_starts_on']
        )
    # Sales already taken back told invoicing their full amount.
    op.execute(
        "UPDATE orders SET reversed_cents = amount_cents WHERE status = 'refunded' "
        "OR (status = 'cancelled' AND payment_method <> 'stripe')"
    )
    op.create_table(
        'offline_paybacks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'amount_cents > 0', name=op.f('ck_offline_paybacks_amount_positive')
        ),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'],
            name=op.f('fk_offline_paybacks_order_id_orders'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['recorded_by_id'], ['users.id'],
            name=op.f('fk_offline_paybacks_recorded_by_id_users'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_paybacks')),
        sa.UniqueConstraint('order_id', name=op.f('uq_offline_paybacks_order_id')),
    )


def downgrade() -> None:
    op.drop_table('offline_paybacks')
    with op.batch_alter_table('orders') as batch:
        batch.drop_constraint('uq_orders_pass_id_period_starts_on', type_='unique')
        batch.drop_column('reversed_cents')
        batch.drop_column('period_starts_on')
