"""The audit trail is append-only: the database itself refuses UPDATE and DELETE."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from models import audit
from models.audit import AuditEvent


def _one_event(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        event = audit.record(session, who=None, action="reception.create", subject_kind="reception", subject_id=7,
                             unit_id=None, details={"after": {"people": 3}})  # fmt: skip
        session.commit()
        return event.id


@pytest.mark.parametrize(
    "statement",
    [
        sa.update(AuditEvent).values(reason="rewritten"),
        sa.delete(AuditEvent),
    ],
    ids=["update", "delete"],
)
def test_audit_events_cannot_be_changed_or_deleted(sessions: sessionmaker[Session], statement: sa.Executable) -> None:
    event_id = _one_event(sessions)

    with sessions() as session, pytest.raises(DBAPIError, match="append-only"):
        session.execute(statement)
    with sessions() as session:
        row = session.get_one(AuditEvent, event_id)
        assert (row.reason, row.details) == (None, {"after": {"people": 3}})


def test_history_lists_a_subjects_events_in_order(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        for action in ("petition.create", "petition.correct"):
            audit.record(session, who=None, action=action, subject_kind="petition", subject_id=5, unit_id=None)
        audit.record(session, who=None, action="petition.create", subject_kind="petition", subject_id=6, unit_id=None)
        session.commit()
        assert [e.action for e in audit.history(session, "petition", 5)] == ["petition.create", "petition.correct"]
