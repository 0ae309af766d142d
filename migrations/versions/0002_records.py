"""records: audit trail, classification catalogue, cases, receptions, sessions, petitions

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit trail is append-only: UPDATE and DELETE raise, whoever sends them.
# (TRUNCATE, a table owner's maintenance tool and the tests' reset, stays possible.)
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'record a new event (models.audit.record) instead of changing an old one';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
"""


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        # Trigram similarity for duplicate petitions (summary, folded petitioner name).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_cases_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_unit_id'), ['unit_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject_kind', sa.String(length=30), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_audit_events_account_id_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_audit_events_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_subject', ['subject_kind', 'subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_unit_id'), ['unit_id'], unique=False)

    op.create_table('catalogue_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_catalogue_versions_created_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_versions')),
    sa.UniqueConstraint('effective_from', name=op.f('uq_catalogue_versions_effective_from')),
    sa.UniqueConstraint('version', name=op.f('uq_catalogue_versions_version'))
    )
    op.create_table('reception_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('head', 'delegated')", name=op.f('ck_reception_sessions_kind')),
    sa.CheckConstraint("status IN ('draft', 'final')", name=op.f('ck_reception_sessions_status')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_reception_sessions_created_by_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_reception_sessions_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reception_sessions'))
    )
    with op.batch_alter_table('reception_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_reception_sessions_unit_held', ['unit_id', 'held_on'], unique=False)

    op.create_table('receptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('people', sa.Integer(), nullable=False),
    sa.Column('crowd_group', sa.Boolean(), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('catalogue_version', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('regular', 'head', 'delegated')", name=op.f('ck_receptions_kind')),
    sa.CheckConstraint("status IN ('draft', 'final')", name=op.f('ck_receptions_status')),
    sa.CheckConstraint('NOT crowd_group OR people >= 5', name=op.f('ck_receptions_crowd_group')),
    sa.CheckConstraint('people >= 1', name=op.f('ck_receptions_people')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_receptions_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_receptions_created_by_accounts')),
    sa.ForeignKeyConstraint(['session_id'], ['reception_sessions.id'], name=op.f('fk_receptions_session_id_reception_sessions')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_receptions_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receptions'))
    )
    with op.batch_alter_table('receptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receptions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_receptions_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_receptions_status'), ['status'], unique=False)
        batch_op.create_index('ix_receptions_unit_received', ['unit_id', 'received_on'], unique=False)

    op.create_table('petitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('reception_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('signatories', sa.Integer(), nullable=False),
    sa.Column('multi_signatory', sa.Boolean(), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('petitioner_name', sa.String(length=300), nullable=True),
    sa.Column('petitioner_name_folded', sa.String(length=300), nullable=False),
    sa.Column('petitioner_id_number', sa.String(length=20), nullable=True),
    sa.Column('petitioner_address', sa.String(length=500), nullable=True),
    sa.Column('petitioner_address_folded', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('catalogue_version', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('eligible', sa.Boolean(), nullable=True),
    sa.Column('within_competence', sa.Boolean(), nullable=True),
    sa.Column('attachment_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('duplicate_of', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('in_person', 'post', 'forwarded', 'online')", name=op.f('ck_petitions_source')),
    sa.CheckConstraint("status IN ('draft', 'final')", name=op.f('ck_petitions_status')),
    sa.CheckConstraint('duplicate_of IS NULL OR duplicate_of <> id', name=op.f('ck_petitions_not_own_duplicate')),
    sa.CheckConstraint('multi_signatory = (signatories >= 5)', name=op.f('ck_petitions_multi_signatory')),
    sa.CheckConstraint('signatories >= 1', name=op.f('ck_petitions_signatories')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_petitions_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_petitions_created_by_accounts')),
    sa.ForeignKeyConstraint(['duplicate_of'], ['petitions.id'], name=op.f('fk_petitions_duplicate_of_petitions')),
    sa.ForeignKeyConstraint(['reception_id'], ['receptions.id'], name=op.f('fk_petitions_reception_id_receptions')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_petitions_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petitions'))
    )
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_petitions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petitions_duplicate_of'), ['duplicate_of'], unique=False)
        batch_op.create_index('ix_petitions_name_folded_trgm', ['petitioner_name_folded'], unique=False, postgresql_using='gin', postgresql_ops={'petitioner_name_folded': 'gin_trgm_ops'})
        batch_op.create_index(batch_op.f('ix_petitions_petitioner_id_number'), ['petitioner_id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_petitions_reception_id'), ['reception_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petitions_status'), ['status'], unique=False)
        batch_op.create_index('ix_petitions_summary_trgm', ['summary'], unique=False, postgresql_using='gin', postgresql_ops={'summary': 'gin_trgm_ops'})
        batch_op.create_index('ix_petitions_unit_received', ['unit_id', 'received_on'], unique=False)
    if _postgres():
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.drop_index('ix_petitions_unit_received')
        batch_op.drop_index('ix_petitions_summary_trgm', postgresql_using='gin', postgresql_ops={'summary': 'gin_trgm_ops'})
        batch_op.drop_index(batch_op.f('ix_petitions_status'))
        batch_op.drop_index(batch_op.f('ix_petitions_reception_id'))
        batch_op.drop_index(batch_op.f('ix_petitions_petitioner_id_number'))
        batch_op.drop_index('ix_petitions_name_folded_trgm', postgresql_using='gin', postgresql_ops={'petitioner_name_folded': 'gin_trgm_ops'})
        batch_op.drop_index(batch_op.f('ix_petitions_duplicate_of'))
        batch_op.drop_index(batch_op.f('ix_petitions_case_id'))

    op.drop_table('petitions')
    with op.batch_alter_table('receptions', schema=None) as batch_op:
        batch_op.drop_index('ix_receptions_unit_received')
        batch_op.drop_index(batch_op.f('ix_receptions_status'))
        batch_op.drop_index(batch_op.f('ix_receptions_session_id'))
        batch_op.drop_index(batch_op.f('ix_receptions_case_id'))

    op.drop_table('receptions')
    with op.batch_alter_table('reception_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_reception_sessions_unit_held')

    op.drop_table('reception_sessions')
    op.drop_table('catalogue_versions')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_unit_id'))
        batch_op.drop_index('ix_audit_events_subject')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))
        batch_op.drop_index(batch_op.f('ix_audit_events_account_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_unit_id'))

    op.drop_table('cases')
