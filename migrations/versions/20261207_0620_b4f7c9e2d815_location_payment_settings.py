"""Ways to pay per location (Stripe, invoice, on site) and holds of orders

Revision ID: b4f7c9e2d815
Revises: 9d2e4b6a1c30
Create Date: 2026-12-07 06:20:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = 'b4f7c9e2d815'
down_revision = '9d2e4b6a1c30'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(
            sa.Column('hold_until', booking.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Day passes and packs left waiting for a payment that never came (the
    # issue-19 bug) close at the next expire-holds run.
    op.execute(
        "UPDATE orders SET hold_until = created_at WHERE status = 'pending' "
        "AND booking_id IS NULL AND payment_method = 'stripe' "
        "AND kind IN ('day_pass', 'pack')"
    )
    op.create_table(
        'location_payment_settings',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('stripe', sa.Boolean(), nullable=False),
        sa.Column('invoice', sa.Boolean(), nullable=False),
        sa.Column('on_site', sa.Boolean(), nullable=False),
        sa.Column('invoice_due_days', sa.Integer(), nullable=False),
        sa.Column('invoice_confirms', sa.Boolean(), nullable=False),
        sa.Column('account_holder', sa.String(length=120), nullable=False),
        sa.Column('iban', sa.String(length=34), nullable=False),
        sa.Column('bic', sa.String(length=11), nullable=False),
        sa.Column('updated_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'invoice_due_days BETWEEN 1 AND 90',
            name=op.f('ck_location_payment_settings_due_days_in_range'),
        ),
        sa.ForeignKeyConstraint(
            ['location_id'], ['locations.id'],
            name=op.f('fk_location_payment_settings_location_id_locations'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('location_id', name=op.f('pk_location_payment_settings')),
    )


def downgrade() -> None:
    op.drop_table('location_payment_settings')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('hold_until')
