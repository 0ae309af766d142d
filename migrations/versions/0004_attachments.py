"""attachments: uploaded bytes and their findings, their uploaders, and the records that reference them

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attachments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('reason_code', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('has_thumbnail', sa.Boolean(), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('uploaded_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['uploaded_by'], ['accounts.id'], name=op.f('fk_attachments_uploaded_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_sha256'), ['sha256'], unique=False)

    op.create_table('attachment_links',
    sa.Column('attachment_id', sa.Uuid(), nullable=False),
    sa.Column('subject_kind', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('linked_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("subject_kind IN ('petition', 'workflow_step', 'submission')", name=op.f('ck_attachment_links_subject_kind')),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], name=op.f('fk_attachment_links_attachment_id_attachments')),
    sa.ForeignKeyConstraint(['linked_by'], ['accounts.id'], name=op.f('fk_attachment_links_linked_by_accounts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_attachment_links_unit_id_units')),
    sa.PrimaryKeyConstraint('attachment_id', 'subject_kind', 'subject_id', name=op.f('pk_attachment_links'))
    )
    with op.batch_alter_table('attachment_links', schema=None) as batch_op:
        batch_op.create_index('ix_attachment_links_subject', ['subject_kind', 'subject_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachment_links_unit_id'), ['unit_id'], unique=False)

    op.create_table('attachment_uploads',
    sa.Column('attachment_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_attachment_uploads_account_id_accounts')),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], name=op.f('fk_attachment_uploads_attachment_id_attachments')),
    sa.PrimaryKeyConstraint('attachment_id', 'account_id', name=op.f('pk_attachment_uploads'))
    )
    with op.batch_alter_table('attachment_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_uploads_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('attachment_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_uploads_account_id'))

    op.drop_table('attachment_uploads')
    with op.batch_alter_table('attachment_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_links_unit_id'))
        batch_op.drop_index('ix_attachment_links_subject')

    op.drop_table('attachment_links')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_sha256'))

    op.drop_table('attachments')
