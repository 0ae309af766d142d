"""The audit trail: who did what to which record, when and why. Append-only.

Rows are only ever inserted; a PostgreSQL trigger (migration 0002) raises on UPDATE
and DELETE, so not even a bug or a hand-typed statement rewrites history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.auth import Principal
from models.base import Base, JSONType, UTCDateTime, intpk, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_subject", "subject_kind", "subject_id"),)

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(60))
    subject_kind: Mapped[str] = mapped_column(sa.String(30))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


def _account_id(who: Principal | int | None) -> int | None:
    return who.account_id if isinstance(who, Principal) else who


def event(
    *,
    who: Principal | int | None,
    action: str,
    subject_kind: str,
    subject_id: object,
    unit_id: int | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit row as a dict, for ``record_many`` (bulk insert)."""
    return {
        "at": utcnow(),
        "account_id": _account_id(who),
        "action": action,
        "subject_kind": subject_kind,
        "subject_id": str(subject_id),
        "unit_id": unit_id,
        "reason": reason,
        "details": details or {},
    }


def record(
    session: Session,
    *,
    who: Principal | int | None,
    action: str,
    subject_kind: str,
    subject_id: object,
    unit_id: int | None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the session (committed with the change it describes)."""
    row = AuditEvent(
        **event(
            who=who,
            action=action,
            subject_kind=subject_kind,
            subject_id=subject_id,
            unit_id=unit_id,
            reason=reason,
            details=details,
        )
    )
    session.add(row)
    return row


def record_many(session: Session, events: list[dict[str, Any]]) -> None:
    """Insert many events built with ``event`` in one statement."""
    if events:
        session.execute(sa.insert(AuditEvent), events)


def history(session: Session, subject_kind: str, subject_id: object) -> list[AuditEvent]:
    """A subject's events, oldest first."""
    stmt = (
        sa.select(AuditEvent)
        .where(AuditEvent.subject_kind == subject_kind, AuditEvent.subject_id == str(subject_id))
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(stmt))
