"""Cases (vụ việc): opening one, checking who may attach to it, and new versus repeat.

A case counts as new in a period when its first FINAL reception or petition falls in
that period, and as repeat when its first record came before the period (CONTRACT).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.auth import Principal
from models.errors import Invalid
from models.records import Case, Petition, Reception, case_first_dates
from models.units import Unit, subtree_clause


def open_case(session: Session, unit_id: int) -> int:
    case = Case(unit_id=unit_id)
    session.add(case)
    session.flush()
    return case.id


def case_visible(session: Session, who: Principal, case_id: int) -> bool:
    """True when the case was opened in the caller's subtree or has a record there."""
    in_tree = subtree_clause(who.unit_path)
    opened_here = sa.select(Case.id).join(Unit, Unit.id == Case.unit_id).where(Case.id == case_id, in_tree)
    receptions = sa.select(Reception.id).join(Unit, Unit.id == Reception.unit_id)
    petitions = sa.select(Petition.id).join(Unit, Unit.id == Petition.unit_id)
    for stmt in (
        opened_here,
        receptions.where(Reception.case_id == case_id, in_tree),
        petitions.where(Petition.case_id == case_id, in_tree),
    ):
        if session.scalar(stmt.limit(1)) is not None:
            return True
    return False


def resolve_case(session: Session, who: Principal, case_id: int | None, unit_id: int) -> int:
    """The case a new record joins: a new one for None, else an existing visible case."""
    if case_id is None:
        return open_case(session, unit_id)
    if session.get(Case, case_id) is None or not case_visible(session, who, case_id):
        raise Invalid.field("case_id", f"no case {case_id} among your unit's cases; send null to open a new case")
    return case_id


def first_dates(session: Session, case_ids: list[int]) -> dict[int, dt.date]:
    """Each case's first day: the earliest received_on of its final receptions and petitions."""
    if not case_ids:
        return {}
    return dict(session.execute(case_first_dates(case_ids)).all())


def novelty(session: Session, case_ids: list[int], start: dt.date, end: dt.date) -> dict[int, str]:
    """ "new" or "repeat" for each case with a final record on or before ``end``.

    New: its first final record falls in [start, end]; repeat: it came before ``start``.
    Cases whose first record is after the period are not in the answer.
    """
    answer: dict[int, str] = {}
    for case_id, first_on in first_dates(session, case_ids).items():
        if first_on < start:
            answer[case_id] = "repeat"
        elif first_on <= end:
            answer[case_id] = "new"
    return answer
