"""Overdue and stuck petitions: flagged by the periodic job, counted per province.

Overdue: an open petition whose current legal deadline (``due_on``) has passed.
Stuck: an open petition idle longer than N days in one assignee's account.
Flags hold the time they were first seen, so running the job twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.handling import PetitionHandling
from models.records import Petition, Status
from models.units import Unit
from models.workflow import OPEN_STATES, VIETNAM, start

_OPEN = [s.value for s in OPEN_STATES]
# Petitions given a handling row per run of the job, at most (those stored before the
# workflow existed, or by a path that did not call ``workflow.start``).
BACKFILL_BATCH = 500


@dataclass(frozen=True)
class FlagResult:
    started: int
    overdue_flagged: int
    overdue_cleared: int
    stuck_flagged: int
    stuck_cleared: int


def _final_petitions() -> sa.ColumnElement[bool]:
    return PetitionHandling.petition_id.in_(sa.select(Petition.id).where(Petition.status == Status.FINAL.value))


def overdue_clause(on: dt.date) -> sa.ColumnElement[bool]:
    """SQL condition: the handling row is open and past its deadline on ``on``."""
    return sa.and_(PetitionHandling.state.in_(_OPEN), PetitionHandling.due_on < on)


def stuck_clause(now: dt.datetime, idle: dt.timedelta) -> sa.ColumnElement[bool]:
    """SQL condition: open, assigned, and untouched for longer than ``idle``."""
    return sa.and_(
        PetitionHandling.state.in_(_OPEN),
        PetitionHandling.assignee_id.is_not(None),
        PetitionHandling.last_activity_at < now - idle,
    )


def backfill(session: Session, limit: int = BACKFILL_BATCH) -> int:
    """Give final petitions without a handling row their first state; returns how many."""
    missing = session.scalars(
        sa.select(Petition)
        .where(Petition.status == Status.FINAL.value)
        .where(~sa.exists().where(PetitionHandling.petition_id == Petition.id))
        .order_by(Petition.id)
        .limit(limit)
    ).all()
    for petition in missing:
        start(session, petition)
    return len(missing)


def flag(session: Session, now: dt.datetime, idle: dt.timedelta) -> FlagResult:
    """Set and clear the overdue and stuck flags; the caller commits."""
    started = backfill(session)
    on = now.astimezone(VIETNAM).date()
    overdue = overdue_clause(on)
    stuck = stuck_clause(now, idle)
    overdue_since, stuck_since = PetitionHandling.overdue_since, PetitionHandling.stuck_since
    flagged = _update(session, sa.and_(overdue, overdue_since.is_(None), _final_petitions()), overdue_since=now)
    cleared = _update(session, sa.and_(overdue_since.is_not(None), ~overdue), overdue_since=None)
    stuck_flagged = _update(session, sa.and_(stuck, stuck_since.is_(None), _final_petitions()), stuck_since=now)
    stuck_cleared = _update(session, sa.and_(stuck_since.is_not(None), ~stuck), stuck_since=None)
    return FlagResult(started, flagged, cleared, stuck_flagged, stuck_cleared)


def _update(session: Session, where: sa.ColumnElement[bool], **values: object) -> int:
    # Plain UPDATEs: the flags are the job's own columns, so updated_at stays the record's.
    result = session.execute(
        sa.update(PetitionHandling)
        .where(where)
        .values(**values, updated_at=PetitionHandling.updated_at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def flagged_filter(kind: str) -> sa.ColumnElement[bool]:
    """SQL condition on petitions: flagged overdue (``kind="overdue"``) or stuck (``"stuck"``).

    For the petitions list (``?overdue=true``, ``?stuck=true``).
    """
    column = PetitionHandling.overdue_since if kind == "overdue" else PetitionHandling.stuck_since
    return Petition.id.in_(sa.select(PetitionHandling.petition_id).where(column.is_not(None)))


def counts_by_province(session: Session) -> dict[str, tuple[int, int]]:
    """Province (top-level unit) code -> (overdue, stuck), every top-level unit included."""
    root_ids = sa.select(Unit.id).where(Unit.parent_id.is_(None))
    provinces = session.execute(sa.select(Unit.code, Unit.path).where(Unit.parent_id.in_(root_ids))).all()
    counts = {code: [0, 0] for code, _ in provinces}
    by_path = {path: code for code, path in provinces}
    rows = session.execute(
        sa.select(
            Unit.path,
            sa.func.count(PetitionHandling.overdue_since),
            sa.func.count(PetitionHandling.stuck_since),
        )
        .select_from(PetitionHandling)
        .join(Petition, Petition.id == PetitionHandling.petition_id)
        .join(Unit, Unit.id == Petition.unit_id)
        .where(sa.or_(PetitionHandling.overdue_since.is_not(None), PetitionHandling.stuck_since.is_not(None)))
        .group_by(Unit.path)
    )
    for path, overdue, stuck in rows:
        province = by_path.get("/".join(path.split("/")[:3]) + "/")
        if province is not None:
            counts[province][0] += int(overdue)
            counts[province][1] += int(stuck)
    return {code: (o, s) for code, (o, s) in counts.items()}
