"""Deleting drafts: one at a time or in bulk by unit subtree and date range. Final records never.

Each deleted record gets its own ``draft.delete`` audit event (a bulk deletion's events
carry the request in their details), so a record's history always ends with who
deleted it and when. A draft reception through which a petition was received is kept
(the petition points at it); cases left without any record are deleted with the drafts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import audit
from models.auth import Principal
from models.errors import Conflict
from models.record_changes import Record, as_dict, kind_of
from models.records import Case, Petition, Reception, ReceptionSession, Status
from models.units import Unit, subtree_clause

KINDS = ("reception", "petition", "session")


def delete_draft(session: Session, who: Principal, record: Record) -> None:
    """Delete one draft (the caller checked the right to); Conflict for a final record."""
    kind = kind_of(record)
    if record.status != Status.DRAFT:
        raise Conflict(f"{kind} {record.id} is final: final records are corrected (PATCH with a reason), never deleted")
    _check_unreferenced(session, record)
    details: dict[str, Any] = {"before": as_dict(record)}
    if isinstance(record, Petition):
        details["cleared_duplicate_of"] = _clear_duplicates_of(session, [record.id])
    audit.record(
        session, who=who, action="draft.delete", subject_kind=kind, subject_id=record.id, unit_id=record.unit_id,
        details=details,
    )  # fmt: skip
    case_id = getattr(record, "case_id", None)
    session.delete(record)
    session.flush()
    _drop_empty_cases(session, [case_id] if case_id is not None else [])


def _check_unreferenced(session: Session, record: Record) -> None:
    if isinstance(record, Reception):
        through = session.scalar(sa.select(Petition.id).where(Petition.reception_id == record.id).limit(1))
        if through is not None:
            raise Conflict(f"petition {through} was received through reception {record.id}; delete or correct it first")
    if isinstance(record, ReceptionSession):
        held = session.scalar(sa.select(Reception.id).where(Reception.session_id == record.id).limit(1))
        if held is not None:
            raise Conflict(f"reception {held} was received in session {record.id}; delete or correct it first")


def delete_drafts(
    session: Session, who: Principal, unit: Unit, since: dt.date, until: dt.date, kinds: list[str]
) -> dict[str, Any]:
    """Delete the drafts of ``unit``'s subtree received in [since, until]; counts per kind."""
    request = {"bulk": True, "unit": unit.code, "from": since.isoformat(), "to": until.isoformat(), "kinds": kinds}
    result: dict[str, Any] = {"petitions": 0, "receptions": 0, "sessions": 0, "kept": []}
    events: list[dict[str, Any]] = []
    case_ids: list[int] = []
    if "petition" in kinds:
        rows = _drafts(session, Petition, unit, since, until)
        cleared = _clear_duplicates_of(session, [r.id for r in rows])
        events += _events(who, "petition", rows, {**request, "cleared_duplicate_of": cleared})
        result["petitions"] = _delete(session, Petition, rows, case_ids)
    if "reception" in kinds:
        rows = _drafts(session, Reception, unit, since, until)
        through = sa.select(Petition.reception_id).where(Petition.reception_id.in_([r.id for r in rows]))
        linked = {i for i in session.scalars(through) if i is not None}
        result["kept"] = [
            {"kind": "reception", "id": i, "reason": "a petition was received through it"} for i in sorted(linked)
        ]
        rows = [r for r in rows if r.id not in linked]
        events += _events(who, "reception", rows, request)
        result["receptions"] = _delete(session, Reception, rows, case_ids)
    if "session" in kinds:
        result["sessions"] = _delete_sessions(session, who, unit, since, until, request, result["kept"])
    audit.record_many(session, events)
    _drop_empty_cases(session, case_ids)
    return result


def _delete_sessions(
    session: Session,
    who: Principal,
    unit: Unit,
    since: dt.date,
    until: dt.date,
    request: dict[str, Any],
    kept: list[dict[str, Any]],
) -> int:
    """Draft sessions held in [since, until], except those a remaining reception was received in."""
    in_tree = sa.select(Unit.id).where(subtree_clause(unit.path))
    stmt = sa.select(ReceptionSession.id, ReceptionSession.unit_id, ReceptionSession.held_on).where(
        ReceptionSession.status == Status.DRAFT,
        ReceptionSession.unit_id.in_(in_tree),
        ReceptionSession.held_on.between(since, until),
    )
    rows = list(session.execute(stmt))
    used = sa.select(Reception.session_id).where(Reception.session_id.in_([r.id for r in rows]))
    linked = {i for i in session.scalars(used) if i is not None}
    kept += [{"kind": "session", "id": i, "reason": "a reception was received in it"} for i in sorted(linked)]
    rows = [r for r in rows if r.id not in linked]
    audit.record_many(
        session,
        [
            audit.event(
                who=who,
                action="draft.delete",
                subject_kind="reception_session",
                subject_id=r.id,
                unit_id=r.unit_id,
                details={**request, "held_on": r.held_on.isoformat()},
            )
            for r in rows
        ],
    )
    if rows:
        session.execute(
            sa.delete(ReceptionSession).where(ReceptionSession.id.in_([r.id for r in rows])),
            execution_options={"synchronize_session": False},
        )
    return len(rows)


def _drafts(session: Session, model: type[Any], unit: Unit, since: dt.date, until: dt.date) -> list[Any]:
    in_tree = sa.select(Unit.id).where(subtree_clause(unit.path))
    stmt = sa.select(model.id, model.unit_id, model.case_id, model.received_on).where(
        model.status == Status.DRAFT, model.unit_id.in_(in_tree), model.received_on.between(since, until)
    )
    return list(session.execute(stmt))


def _events(who: Principal, kind: str, rows: list[Any], details: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        audit.event(
            who=who, action="draft.delete", subject_kind=kind, subject_id=r.id, unit_id=r.unit_id,
            details={**details, "received_on": r.received_on.isoformat(), "case_id": r.case_id},
        )
        for r in rows
    ]  # fmt: skip


def _delete(session: Session, model: type[Any], rows: list[Any], case_ids: list[int]) -> int:
    if not rows:
        return 0
    case_ids.extend(r.case_id for r in rows)
    session.execute(
        sa.delete(model).where(model.id.in_([r.id for r in rows])), execution_options={"synchronize_session": False}
    )
    return len(rows)


def _clear_duplicates_of(session: Session, petition_ids: list[int]) -> list[int]:
    """Petitions marked duplicates of the deleted ones lose that mark; their ids."""
    if not petition_ids:
        return []
    keep = ~Petition.id.in_(petition_ids)
    pointing = list(session.scalars(sa.select(Petition.id).where(Petition.duplicate_of.in_(petition_ids), keep)))
    if pointing:
        session.execute(
            sa.update(Petition).where(Petition.id.in_(pointing)).values(duplicate_of=None),
            execution_options={"synchronize_session": False},
        )
    # Among the deleted drafts themselves, drop the links too: the deletion order is free then.
    session.execute(
        sa.update(Petition)
        .where(Petition.id.in_(petition_ids), Petition.duplicate_of.is_not(None))
        .values(duplicate_of=None),
        execution_options={"synchronize_session": False},
    )
    return pointing


def _drop_empty_cases(session: Session, case_ids: list[int]) -> None:
    if not case_ids:
        return
    has_reception = sa.exists().where(Reception.case_id == Case.id)
    has_petition = sa.exists().where(Petition.case_id == Case.id)
    session.execute(
        sa.delete(Case).where(Case.id.in_(set(case_ids)), ~has_reception, ~has_petition),
        execution_options={"synchronize_session": False},
    )
