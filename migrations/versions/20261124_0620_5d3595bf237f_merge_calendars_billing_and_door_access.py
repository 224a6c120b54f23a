"""merge calendars, billing and door access

Revision ID: 5d3595bf237f
Revises: e8cc7c00687c, 189a16714251, 597a69502289
Create Date: 2026-11-24 06:20:18.362935
"""

revision = '5d3595bf237f'
down_revision = ('e8cc7c00687c', '189a16714251', '597a69502289')
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The three feature branches touch different tables; nothing to reconcile.
    pass


def downgrade() -> None:
    pass
