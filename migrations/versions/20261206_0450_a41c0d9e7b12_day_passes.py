"""Day passes: plans.half_day and passes.day_part

Revision ID: a41c0d9e7b12
Revises: 839733a28fdb
Create Date: 2026-12-06 04:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'a41c0d9e7b12'
down_revision = '839733a28fdb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A day pass is a plan of kind "day_pass" (kinds are plain strings, no
    # enum type to alter); a sold pass remembers which half of the day it is.
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('half_day', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('day_part', sa.String(length=4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_column('day_part')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('half_day')
