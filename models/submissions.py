"""Submissions of statistical reports, idempotency records and the outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, created_at, intpk


class Status(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


FINAL_STATUSES = frozenset({Status.ACCEPTED, Status.REJECTED})


class Submission(Base):
    """One version of a unit's form for a period, with the receipt that was signed for it."""

    __tablename__ = "submissions"
    __table_args__ = (
        sa.UniqueConstraint("unit_id", "period_id", "form_code", "version"),
        sa.Index("ix_submissions_period_form_status", "period_id", "form_code", "status"),
        # The accepted submissions still to compare with their records (models/reconciliation.py).
        sa.Index(
            "ix_submissions_to_reconcile",
            "processed_at",
            postgresql_where=sa.text("status = 'accepted' AND differences IS NULL"),
            sqlite_where=sa.text("status = 'accepted' AND differences IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("periods.id"))
    form_code: Mapped[str] = mapped_column(sa.String(20))
    form_version: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType)
    note: Mapped[str | None] = mapped_column(sa.Text)
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default=Status.QUEUED)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    on_time: Mapped[bool]
    received_at: Mapped[dt.datetime]
    processed_at: Mapped[dt.datetime | None]
    receipt: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Figure columns that differ from what the unit's own records give, recorded when the
    # submission is accepted (models/reconciliation.py); NULL: not compared.
    differences: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)


class IdempotencyRecord(Base):
    """What one ``Idempotency-Key`` of one account produced, so a retry gets the same answer."""

    __tablename__ = "idempotency_records"

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    resource_id: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[created_at]


class OutboxEntry(Base):
    """A message owed to the broker, written in the same transaction as its cause.

    The worker deletes the entry when it has handled the message; the relay re-sends
    whatever is still here after a delay, so a lost message is only ever late.
    """

    __tablename__ = "outbox"

    id: Mapped[intpk]
    queue: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(80))
    resource_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_at: Mapped[created_at]


def new_submission_id() -> uuid.UUID:
    return uuid.uuid4()
