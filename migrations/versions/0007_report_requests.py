"""report requests, and the differences of a submission from its unit's records

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table('report_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('form_code', sa.String(length=20), nullable=False),
    sa.Column('form_version', sa.String(length=40), nullable=False),
    sa.Column('period_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requested_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['period_id'], ['periods.id'], name=op.f('fk_report_requests_period_id_periods')),
    sa.ForeignKeyConstraint(['requested_by'], ['accounts.id'], name=op.f('fk_report_requests_requested_by_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_report_requests_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_requests'))
    )  # fmt: skip
    with op.batch_alter_table('report_requests', schema=None) as batch_op:
        batch_op.create_index(
            'ix_report_requests_active', ['form_code', 'form_version', 'period_id', 'unit_id'], unique=True,
            postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE),
        )  # fmt: skip
        batch_op.create_index('ix_report_requests_status_expires_at', ['status', 'expires_at'], unique=False)
    jsonb = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('differences', jsonb, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('differences')
    with op.batch_alter_table('report_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_report_requests_status_expires_at')
        batch_op.drop_index('ix_report_requests_active', postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE))
    op.drop_table('report_requests')
