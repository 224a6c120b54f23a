"""Members' billing address: invoices to a person carry it (§ 14 UStG)

Revision ID: c4e8a2f61d97
Revises: e1c5a9d3b207
Create Date: 2026-12-07 15:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'c4e8a2f61d97'
down_revision = 'e1c5a9d3b207'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(
            sa.Column('billing_address', sa.Text(), server_default='', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('billing_address')
