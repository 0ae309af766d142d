"""form query indexes: a petition's history per petition, and final records per case by date

Revision ID: 0006
Revises: 0005

Declared in ``models/form_query_indexes.py`` (the queries of ``models/form_query.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINAL = sa.text("status = 'final'")


def upgrade() -> None:
    op.create_index(
        "ix_petition_events_history",
        "petition_events",
        ["petition_id", "effective_on", "id"],
        postgresql_include=["to_state", "action"],
    )
    op.create_index("ix_receptions_case_final", "receptions", ["case_id", "received_on"], postgresql_where=FINAL)
    op.create_index("ix_petitions_case_final", "petitions", ["case_id", "received_on"], postgresql_where=FINAL)


def downgrade() -> None:
    op.drop_index("ix_petitions_case_final", table_name="petitions")
    op.drop_index("ix_receptions_case_final", table_name="receptions")
    op.drop_index("ix_petition_events_history", table_name="petition_events")
