"""the accepted submissions still to compare with their records

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'accepted' AND differences IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_submissions_to_reconcile",
        "submissions",
        ["processed_at"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_to_reconcile", table_name="submissions")
