"""calendar feeds and room blocks, notifications, check-in and waitlist, profiles

Revision ID: e8cc7c00687c
Revises: db020025291a
Create Date: 2026-11-24 05:37:47.057847
"""

from alembic import op
import sqlalchemy as sa
import booking.db


revision = 'e8cc7c00687c'
down_revision = 'db020025291a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_calendar_feeds_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds'))
    )
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feeds_user_id'), ['user_id'], unique=False)

    op.create_table('checkin_policies',
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('release_after', sa.String(length=5), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_checkin_policies_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('location_id', name=op.f('pk_checkin_policies'))
    )
    op.create_table('member_profiles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('target_group', sa.String(length=16), nullable=True),
    sa.Column('home_municipality', sa.String(length=120), nullable=True),
    sa.Column('commute_km', sa.Integer(), nullable=True),
    sa.Column('updated_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('commute_km IS NULL OR (commute_km >= 0 AND commute_km <= 500)', name=op.f('ck_member_profiles_commute_range')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_member_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_member_profiles'))
    )
    op.create_table('notification_opt_outs',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_opt_outs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_opt_outs'))
    )
    op.create_table('sent_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sent_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_notifications')),
    sa.UniqueConstraint('key', name=op.f('uq_sent_notifications_key'))
    )
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_notifications_user_id'), ['user_id'], unique=False)

    op.create_table('waitlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_waitlist_entries_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_waitlist_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    sa.UniqueConstraint('user_id', 'location_id', 'day', name=op.f('uq_waitlist_entries_user_id_location_id_day'))
    )
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waitlist_entries_location_id_day'), ['location_id', 'day'], unique=False)

    op.create_table('calendar_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_calendar_imports_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_calendar_imports_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_calendar_imports_resource_id_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_imports'))
    )
    with op.batch_alter_table('calendar_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_imports_location_id'), ['location_id'], unique=False)

    op.create_table('room_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=255), nullable=False),
    sa.Column('occurrence', sa.String(length=32), nullable=False),
    sa.Column('summary', sa.String(length=255), nullable=False),
    sa.Column('starts_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_room_blocks_ordered')),
    sa.ForeignKeyConstraint(['import_id'], ['calendar_imports.id'], name=op.f('fk_room_blocks_import_id_calendar_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_room_blocks_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_room_blocks_resource_id_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_room_blocks')),
    sa.UniqueConstraint('import_id', 'uid', 'occurrence', name=op.f('uq_room_blocks_import_id_uid_occurrence'))
    )
    with op.batch_alter_table('room_blocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_blocks_location_id_starts_at'), ['location_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_room_blocks_resource_id_starts_at'), ['resource_id', 'starts_at'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_in_at', booking.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('checked_in_at')

    with op.batch_alter_table('room_blocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_room_blocks_resource_id_starts_at'))
        batch_op.drop_index(batch_op.f('ix_room_blocks_location_id_starts_at'))

    op.drop_table('room_blocks')
    with op.batch_alter_table('calendar_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_imports_location_id'))

    op.drop_table('calendar_imports')
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waitlist_entries_location_id_day'))

    op.drop_table('waitlist_entries')
    with op.batch_alter_table('sent_notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_notifications_user_id'))

    op.drop_table('sent_notifications')
    op.drop_table('notification_opt_outs')
    op.drop_table('member_profiles')
    op.drop_table('checkin_policies')
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_feeds_user_id'))

    op.drop_table('calendar_feeds')
