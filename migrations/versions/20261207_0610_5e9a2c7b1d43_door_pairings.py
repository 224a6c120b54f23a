"""Door pairing codes: single use, 24 h, stored hashed

Revision ID: 5e9a2c7b1d43
Revises: 3c8f1a2b7d10
Create Date: 2026-12-07 06:10:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = '5e9a2c7b1d43'
down_revision = '3c8f1a2b7d10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'door_pairings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('door_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['door_id'],
            ['doors.id'],
            name=op.f('fk_door_pairings_door_id_doors'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['created_by_id'],
            ['users.id'],
            name=op.f('fk_door_pairings_created_by_id_users'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_door_pairings')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_door_pairings_code_hash')),
    )
    with op.batch_alter_table('door_pairings', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_door_pairings_door_id'), ['door_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('door_pairings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_door_pairings_door_id'))
    op.drop_table('door_pairings')
