"""One workplace per person: booking_slots.user_id, unique with the slot

Revision ID: 7d2e5a9c41b8
Revises: c3b41a1c532c
Create Date: 2026-12-07 03:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '7d2e5a9c41b8'
down_revision = 'c3b41a1c532c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The holder of a workplace's slots (desks and flex seats; rooms stay
    # empty): (user_id, slot) unique means one person, one workplace at a time.
    with op.batch_alter_table('booking_slots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_booking_slots_user_id_users'), 'users', ['user_id'], ['id']
        )
    op.execute(
        "UPDATE booking_slots SET user_id = ("
        " SELECT bookings.user_id FROM bookings"
        " JOIN resources ON resources.id = bookings.resource_id"
        " WHERE bookings.id = booking_slots.booking_id"
        " AND resources.kind IN ('desk', 'flex'))"
    )
    with op.batch_alter_table('booking_slots', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_booking_slots_user_id_slot'), ['user_id', 'slot'], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table('booking_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_slots_user_id_slot'))
        batch_op.drop_constraint(
            batch_op.f('fk_booking_slots_user_id_users'), type_='foreignkey'
        )
        batch_op.drop_column('user_id')
