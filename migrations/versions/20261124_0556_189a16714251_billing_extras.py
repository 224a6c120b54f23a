"""billing: company locations, plan prices, included room hours, invoice ids

Revision ID: 189a16714251
Revises: b53fe3b9f8fc
Create Date: 2026-11-24 05:56:04.970682
"""

from alembic import op
import sqlalchemy as sa
import booking.db


revision = '189a16714251'
down_revision = 'b53fe3b9f8fc'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_companies_location_id_locations'), 'locations', ['location_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('credit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit', sa.String(length=6), server_default='day', nullable=False))

    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('room_hours', sa.Integer(), nullable=True))

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payments_stripe_invoice_id'), ['stripe_invoice_id'])

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('room_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stripe_price_id', sa.String(length=255), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('stripe_price_id')
        batch_op.drop_column('room_hours')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payments_stripe_invoice_id'), type_='unique')
        batch_op.drop_column('stripe_invoice_id')

    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_column('room_hours')

    with op.batch_alter_table('credit_entries', schema=None) as batch_op:
        batch_op.drop_column('unit')

    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_companies_location_id_locations'), type_='foreignkey')
        batch_op.drop_column('location_id')

