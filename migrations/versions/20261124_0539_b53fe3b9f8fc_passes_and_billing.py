"""passes and billing

Revision ID: b53fe3b9f8fc
Revises: db020025291a
Create Date: 2026-11-24 05:39:17.568570
"""

from alembic import op
import sqlalchemy as sa
import booking.db


revision = 'b53fe3b9f8fc'
down_revision = 'db020025291a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('received_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('companies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('billing_email', sa.String(length=254), nullable=False),
    sa.Column('admin_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['admin_user_id'], ['users.id'], name=op.f('fk_companies_admin_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_companies'))
    )
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('valid_days', sa.Integer(), nullable=True),
    sa.Column('access_24_7', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('days IS NULL OR days >= 1', name=op.f('ck_plans_days_positive')),
    sa.CheckConstraint('price_cents >= 0', name=op.f('ck_plans_price_not_negative')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_plans_location_id_locations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    op.create_table('billing_customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (company_id IS NULL)', name=op.f('ck_billing_customers_one_holder')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_billing_customers_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_billing_customers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_customers')),
    sa.UniqueConstraint('company_id', name=op.f('uq_billing_customers_company_id')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_billing_customers_stripe_customer_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_billing_customers_user_id'))
    )
    op.create_table('company_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_company_members_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_company_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_members'))
    )
    with op.batch_alter_table('company_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_members_company_id'), ['company_id'], unique=False)
        batch_op.create_index('uq_company_members_current_user', ['user_id'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))

    op.create_table('passes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('credits', sa.Integer(), nullable=True),
    sa.Column('access_24_7', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_status', sa.String(length=32), nullable=True),
    sa.Column('current_period_end', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('past_due_since', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('grace_until', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (company_id IS NULL)', name=op.f('ck_passes_one_holder')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_passes_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_passes_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_passes_plan_id_plans')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_passes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passes')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_passes_stripe_subscription_id'))
    )
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passes_company_id_status'), ['company_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_passes_user_id_status'), ['user_id', 'status'], unique=False)

    op.create_table('credit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pass_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('booked_on', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_credit_entries_actor_id_users')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_credit_entries_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_credit_entries_location_id_locations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pass_id'], ['passes.id'], name=op.f('fk_credit_entries_pass_id_passes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_entries'))
    )
    with op.batch_alter_table('credit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_entries_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_entries_location_id_booked_on'), ['location_id', 'booked_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_entries_pass_id_period'), ['pass_id', 'period'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('pass_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_orders_amount_not_negative')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_orders_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_orders_company_id_companies')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_orders_location_id_locations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pass_id'], ['passes.id'], name=op.f('fk_orders_pass_id_passes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_orders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_user_id_created_at'), ['user_id', 'created_at'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('stripe_checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('checkout_url', sa.Text(), nullable=True),
    sa.Column('refunded_cents', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('stripe_checkout_session_id', name=op.f('uq_payments_stripe_checkout_session_id')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_payments_stripe_payment_intent_id')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_payments_stripe_refund_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_status'), ['status'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_expires_at', booking.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('settled_by', sa.String(length=8), nullable=True))

    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_day_cents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('price_half_day_cents', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('price_hour_cents', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_column('price_hour_cents')
        batch_op.drop_column('price_half_day_cents')
        batch_op.drop_column('price_day_cents')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('settled_by')
        batch_op.drop_column('hold_expires_at')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_status'))
        batch_op.drop_index(batch_op.f('ix_payments_order_id'))

    op.drop_table('payments')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_user_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_orders_status'))
        batch_op.drop_index(batch_op.f('ix_orders_booking_id'))

    op.drop_table('orders')
    with op.batch_alter_table('credit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_entries_pass_id_period'))
        batch_op.drop_index(batch_op.f('ix_credit_entries_location_id_booked_on'))
        batch_op.drop_index(batch_op.f('ix_credit_entries_booking_id'))

    op.drop_table('credit_entries')
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passes_user_id_status'))
        batch_op.drop_index(batch_op.f('ix_passes_company_id_status'))

    op.drop_table('passes')
    with op.batch_alter_table('company_members', schema=None) as batch_op:
        batch_op.drop_index('uq_company_members_current_user', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_company_members_company_id'))

    op.drop_table('company_members')
    op.drop_table('billing_customers')
    op.drop_table('plans')
    op.drop_table('companies')
    op.drop_table('stripe_events')
