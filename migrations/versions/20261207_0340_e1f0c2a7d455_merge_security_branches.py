"""Join the door PIN, one-workplace and mail-retry revisions (written side by side).

Revision ID: e1f0c2a7d455
Revises: 7a3e5c1d9b20, 7d2e5a9c41b8, b7e2d4f1a9c3
Create Date: 2026-12-07 03:40
"""

revision = "e1f0c2a7d455"
down_revision = ("7a3e5c1d9b20", "7d2e5a9c41b8", "b7e2d4f1a9c3")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
