"""figures kept per holding unit, and the log of record changes that makes them stale

Revision ID: 0009
Revises: 0008

``models/form_cache.py`` explains both tables. On PostgreSQL, statement-level triggers
log every write to the tables a form reads; TRUNCATE of one of them empties the cache.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# For each table: the (unit_id, case_id) pairs a set of its rows ``{rows}`` touches.
TOUCHED = {
    "receptions": "SELECT unit_id, case_id FROM {rows}"
    " UNION SELECT s.unit_id, NULL FROM {rows} x JOIN reception_sessions s ON s.id = x.session_id",
    "reception_sessions": "SELECT unit_id, NULL::bigint FROM {rows}",
    "petitions": "SELECT unit_id, case_id FROM {rows}",
    "petition_handling": "SELECT p.unit_id, p.case_id FROM {rows} x JOIN petitions p ON p.id = x.petition_id",
    "petition_events": "SELECT p.unit_id, p.case_id FROM {rows} x JOIN petitions p ON p.id = x.petition_id",
}

LOG_FUNCTION = """
CREATE FUNCTION form_changes_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO form_changes (unit_id, case_id) SELECT DISTINCT * FROM ({new}) t;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO form_changes (unit_id, case_id) SELECT DISTINCT * FROM ({old}) t;
    END IF;
    RETURN NULL;
END $$"""

CLEAR_FUNCTION = """
CREATE FUNCTION form_cache_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM form_unit_figures;
    RETURN NULL;
END $$"""

TRIGGERS = {
    "insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "form_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "xid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text::bigint)") if postgres else None,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_changes")),
    )
    op.create_table(
        "form_unit_figures",
        sa.Column("query_key", sa.String(length=64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=False),
        sa.Column("figures", postgresql.ARRAY(sa.Numeric()).with_variant(sa.JSON(), "sqlite"), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("query_key", "starts_on", "ends_on", "unit_id", name=op.f("pk_form_unit_figures")),
    )
    if not postgres:
        return
    op.execute(CLEAR_FUNCTION)
    for table, touched in TOUCHED.items():
        op.execute(LOG_FUNCTION.format(table=table, new=touched.format(rows="new_rows"), old=touched.format(rows="old_rows")))
        for event, when in TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER form_changes_{event} {when.format(table=table)}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION form_changes_{table}()"
            )
        op.execute(
            f"CREATE TRIGGER form_cache_clear AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION form_cache_clear()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TOUCHED:
            for event in (*TRIGGERS, "clear"):
                name = "form_cache_clear" if event == "clear" else f"form_changes_{event}"
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS form_changes_{table}()")
        op.execute("DROP FUNCTION IF EXISTS form_cache_clear()")
    op.drop_table("form_unit_figures")
    op.drop_table("form_changes")
