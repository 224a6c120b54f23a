"""company_invitations: employers invite employees by e-mail

Revision ID: 5f4ea601d9ae
Revises: a41c0d9e7b12
Create Date: 2026-12-06 05:23:23.276403
"""

from alembic import op
import sqlalchemy as sa
import booking.db


revision = '5f4ea601d9ae'
down_revision = 'a41c0d9e7b12'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', booking.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_by_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', booking.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['accepted_by_id'], ['users.id'], name=op.f('fk_company_invitations_accepted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_company_invitations_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_company_invitations_invited_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_company_invitations_token_hash'))
    )
    with op.batch_alter_table('company_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_invitations_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_company_invitations_email'), ['email'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('company_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_invitations_email'))
        batch_op.drop_index(batch_op.f('ix_company_invitations_company_id'))

    op.drop_table('company_invitations')
