"""Fixed desks: plans.fixed_desk and resources.fixed_pass_id

Revision ID: c3b41a1c532c
Revises: 5f4ea601d9ae
Create Date: 2026-12-06 12:04:02
"""

from alembic import op
import sqlalchemy as sa


revision = 'c3b41a1c532c'
down_revision = '5f4ea601d9ae'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A membership plan may come with a desk of one's own; the desk row
    # points at the pass it is assigned to (one desk per pass, unique).
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('fixed_desk', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fixed_pass_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_resources_fixed_pass_id'), ['fixed_pass_id']
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_resources_fixed_pass_id_passes'),
            'passes',
            ['fixed_pass_id'],
            ['id'],
            ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_resources_fixed_pass_id_passes'), type_='foreignkey'
        )
        batch_op.drop_constraint(batch_op.f('uq_resources_fixed_pass_id'), type_='unique')
        batch_op.drop_column('fixed_pass_id')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('fixed_desk')
