"""door access: doors, the audit log (access_events) and door alerts

Revision ID: 597a69502289
Revises: db020025291a
Create Date: 2026-11-24 05:50:03.665652
"""

from alembic import op
import sqlalchemy as sa
import booking.db


revision = '597a69502289'
down_revision = 'db020025291a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('doors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('secret_enc', sa.Text(), nullable=True),
    sa.Column('secret_rotated_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('open_s', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=True),
    sa.Column('online_since', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('is_open', sa.Boolean(), nullable=True),
    sa.Column('battery', sa.Integer(), nullable=True),
    sa.Column('firmware', sa.String(length=64), nullable=True),
    sa.CheckConstraint('open_s BETWEEN 1 AND 60', name=op.f('ck_doors_open_s_range')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_doors_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_doors'))
    )
    with op.batch_alter_table('doors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_doors_kind_device_id'), ['kind', 'device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_doors_location_id'), ['location_id'], unique=False)

    op.create_table('door_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('door_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=False),
    sa.Column('raised_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['door_id'], ['doors.id'], name=op.f('fk_door_alerts_door_id_doors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_door_alerts'))
    )
    with op.batch_alter_table('door_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_door_alerts_door_id_kind_resolved_at'), ['door_id', 'kind', 'resolved_at'], unique=False)

    op.create_table('door_resources',
    sa.Column('door_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['door_id'], ['doors.id'], name=op.f('fk_door_resources_door_id_doors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_door_resources_resource_id_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('door_id', 'resource_id', name=op.f('pk_door_resources'))
    )
    op.create_table('access_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('door_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('event_type', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('command_id', sa.String(length=64), nullable=True),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('occurred_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_access_events_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['door_id'], ['doors.id'], name=op.f('fk_access_events_door_id_doors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_access_events_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_events_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_access_events_event_id'))
    )
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_events_door_id_occurred_at'), ['door_id', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_events_location_id_occurred_at'), ['location_id', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_events_user_id_occurred_at'), ['user_id', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_events_user_id_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_access_events_location_id_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_access_events_door_id_occurred_at'))

    op.drop_table('access_events')
    op.drop_table('door_resources')
    with op.batch_alter_table('door_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_door_alerts_door_id_kind_resolved_at'))

    op.drop_table('door_alerts')
    with op.batch_alter_table('doors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_doors_location_id'))
        batch_op.drop_index(batch_op.f('ix_doors_kind_device_id'))

    op.drop_table('doors')
