"""forms engine: the resolution figures and outcomes the statistical forms count

Revision ID: 0005
Revises: 0004

``people_restored`` becomes ``individuals_restored`` (the forms' vocabulary). The new
head-counts default to 0 and ``court_judgment`` to false, so rows resolved before this
revision read as "none recorded". ``handled_as``/``handled_on``, ``urged_on`` and
``reply_received_on`` copy facts of ``petition_events`` (filled here from the events).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "petition_handling"
COUNTS = ("sanctions_persons", "sanctions_officials", "referred_cases", "referred_persons", "referred_officials")
OLD_OUTCOMES = "outcome IS NULL OR outcome IN ('right', 'wrong', 'partly_right')"
OUTCOMES = (
    "outcome IS NULL OR outcome IN ('right', 'wrong', 'partly_right', 'upheld', 'amended', 'withdrawn', 'suspended')"
)
CHECKS = {
    "second_resolution_outcome": "outcome NOT IN ('upheld', 'amended') OR resolution_round = 2",
    "sanctioned_officials_among_persons": "sanctions_officials <= sanctions_persons",
    "referred_officials_among_persons": "referred_officials <= referred_persons",
    "resolution_counts_not_negative": " AND ".join(f"{name} >= 0" for name in COUNTS),
}


# The history's facts copied on the handling row (see models/handling.py), for rows
# handled before this revision.
BACKFILL = (
    """UPDATE petition_handling h SET handled_as = e.to_state, handled_on = e.effective_on
         FROM (SELECT DISTINCT ON (petition_id) petition_id, to_state, effective_on FROM petition_events
                WHERE to_state NOT IN ('received', 'classified') ORDER BY petition_id, effective_on, id) e
        WHERE e.petition_id = h.petition_id""",
    """UPDATE petition_handling h SET urged_on = e.day
         FROM (SELECT petition_id, min(effective_on) AS day FROM petition_events
                WHERE action = 'urge' GROUP BY petition_id) e
        WHERE e.petition_id = h.petition_id""",
    """UPDATE petition_handling h SET reply_received_on = e.day
         FROM (SELECT petition_id, min(effective_on) AS day FROM petition_events
                WHERE action = 'reply_received' GROUP BY petition_id) e
        WHERE e.petition_id = h.petition_id""",
)
FACTS = (
    ("handled_as", sa.String(length=20)),
    ("handled_on", sa.Date()),
    ("urged_on", sa.Date()),
    ("reply_received_on", sa.Date()),
)


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("people_restored", new_column_name="individuals_restored")
        for name, type_ in FACTS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("court_judgment", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_constraint(batch_op.f("ck_petition_handling_outcome"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_petition_handling_outcome"), OUTCOMES)
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f"ck_petition_handling_{name}"), condition)
    if op.get_bind().dialect.name == "postgresql":
        for statement in BACKFILL:
            op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_petition_handling_{name}"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_petition_handling_outcome"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_petition_handling_outcome"), OLD_OUTCOMES)
        batch_op.drop_column("court_judgment")
        for name, _ in reversed(FACTS):
            batch_op.drop_column(name)
        for name in reversed(COUNTS):
            batch_op.drop_column(name)
        batch_op.alter_column("individuals_restored", new_column_name="people_restored")
