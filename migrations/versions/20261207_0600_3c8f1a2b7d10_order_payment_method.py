"""Orders: how each is paid (stripe, invoice, on_site)

Revision ID: 3c8f1a2b7d10
Revises: 7a1d0b3e9c55
Create Date: 2026-12-07 06:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '3c8f1a2b7d10'
down_revision = '7a1d0b3e9c55'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(
            sa.Column('payment_method', sa.String(length=12), nullable=False, server_default='stripe')
        )


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('payment_method')
