"""Door PINs: one key per booking, revocable

Revision ID: 7a3e5c1d9b20
Revises: c3b41a1c532c
Create Date: 2026-12-07 02:50:00
"""

from alembic import op
import sqlalchemy as sa

import booking.db


revision = '7a3e5c1d9b20'
down_revision = 'c3b41a1c532c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each booking's offline PIN gets its own index among the location's PINs
    # with the same window; revoked rows stay so a key is never reused.
    op.create_table(
        'door_pins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('start_slot', sa.Integer(), nullable=False),
        sa.Column('slots', sa.Integer(), nullable=False),
        sa.Column('pin_index', sa.Integer(), nullable=False),
        sa.Column('ends_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('issued_at', booking.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', booking.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_reason', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ['booking_id'],
            ['bookings.id'],
            name=op.f('fk_door_pins_booking_id_bookings'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['location_id'],
            ['locations.id'],
            name=op.f('fk_door_pins_location_id_locations'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_door_pins')),
        sa.UniqueConstraint(
            'location_id',
            'start_slot',
            'slots',
            'pin_index',
            name=op.f('uq_door_pins_location_id_start_slot_slots_pin_index'),
        ),
    )
    with op.batch_alter_table('door_pins', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_door_pins_booking_id'), ['booking_id'], unique=False
        )
        batch_op.create_index(
            batch_op.f('ix_door_pins_ends_at_revoked_at'),
            ['ends_at', 'revoked_at'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('door_pins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_door_pins_ends_at_revoked_at'))
        batch_op.drop_index(batch_op.f('ix_door_pins_booking_id'))
    op.drop_table('door_pins')
