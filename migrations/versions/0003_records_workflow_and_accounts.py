"""records_workflow_and_accounts: the handling of petitions, its append-only history, deadline rule versions

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The history of a petition's handling is append-only, like the audit trail: UPDATE and
# DELETE raise whoever sends them (TRUNCATE, the owner's maintenance tool, stays possible).
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION petition_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'petition_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new transition (models.workflow.act) instead of changing an old one';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER petition_events_append_only BEFORE UPDATE OR DELETE ON petition_events
FOR EACH ROW EXECUTE FUNCTION petition_events_append_only()
"""


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table('deadline_rule_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_deadline_rule_versions_created_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_rule_versions')),
    sa.UniqueConstraint('effective_from', name=op.f('uq_deadline_rule_versions_effective_from')),
    sa.UniqueConstraint('version', name=op.f('uq_deadline_rule_versions_version'))
    )
    op.create_table('petition_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('petition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_petition_events_account_id_accounts')),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_petition_events_petition_id_petitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition_events'))
    )
    with op.batch_alter_table('petition_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_petition_events_petition_id'), ['petition_id'], unique=False)

    op.create_table('petition_handling',
    sa.Column('petition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_activity_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stage_started_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('rules_version', sa.String(length=20), nullable=True),
    sa.Column('accepted_on', sa.Date(), nullable=True),
    sa.Column('complex_case', sa.Boolean(), nullable=False),
    sa.Column('remote_area', sa.Boolean(), nullable=False),
    sa.Column('extensions', sa.Integer(), nullable=False),
    sa.Column('overdue_since', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('stuck_since', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_round', sa.SmallInteger(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('decision_number', sa.String(length=100), nullable=True),
    sa.Column('decision_date', sa.Date(), nullable=True),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('money_recovered_state', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('land_recovered_state', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('money_returned_organisations', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('land_returned_organisations', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('money_returned_individuals', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('land_returned_individuals', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('organisations_restored', sa.Integer(), nullable=False),
    sa.Column('people_restored', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('right', 'wrong', 'partly_right')", name=op.f('ck_petition_handling_outcome')),
    sa.CheckConstraint('extensions >= 0', name=op.f('ck_petition_handling_extensions_not_negative')),
    sa.CheckConstraint('resolution_round IN (1, 2)', name=op.f('ck_petition_handling_resolution_round')),
    sa.ForeignKeyConstraint(['assignee_id'], ['accounts.id'], name=op.f('fk_petition_handling_assignee_id_accounts')),
    sa.ForeignKeyConstraint(['petition_id'], ['petitions.id'], name=op.f('fk_petition_handling_petition_id_petitions')),
    sa.PrimaryKeyConstraint('petition_id', name=op.f('pk_petition_handling'))
    )
    with op.batch_alter_table('petition_handling', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_petition_handling_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_handling_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_handling_state'), ['state'], unique=False)
        batch_op.create_index('ix_petition_handling_flagged', ['petition_id'], unique=False, postgresql_where=sa.text('overdue_since IS NOT NULL OR stuck_since IS NOT NULL'))
    if _postgres():
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS petition_events_append_only ON petition_events")
        op.execute("DROP FUNCTION IF EXISTS petition_events_append_only()")
    with op.batch_alter_table('petition_handling', schema=None) as batch_op:
        batch_op.drop_index('ix_petition_handling_flagged', postgresql_where=sa.text('overdue_since IS NOT NULL OR stuck_since IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_petition_handling_state'))
        batch_op.drop_index(batch_op.f('ix_petition_handling_due_on'))
        batch_op.drop_index(batch_op.f('ix_petition_handling_assignee_id'))

    op.drop_table('petition_handling')
    with op.batch_alter_table('petition_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_petition_events_petition_id'))

    op.drop_table('petition_events')
    op.drop_table('deadline_rule_versions')
