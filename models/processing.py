"""What a worker does with a stored submission: check the form's identities and decide.

Idempotent: a submission already decided is left as it is, so a message delivered twice
(the broker's at-least-once promise, the outbox relay) changes nothing the second time.

Two statements, each committing by itself when the worker passes an autocommit
connection: read what is to be decided (the submission and any earlier version of it
still waiting, in one query), then write every decision and drop their outbox rows in
one statement. That statement only decides rows still undecided (a twin that got there
first wins, and its decision is the same: the figures do not change), so no row lock is
taken in between; one unit's jobs never overlap anyway under the unit limiter.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.direct_connections import DirectConnections
from models.forms import FormCatalogue
from models.submissions import FINAL_STATUSES, OutboxEntry, Status, Submission

if TYPE_CHECKING:
    import psycopg


# Where the two statements run: a worker thread's own autocommitted connection on
# PostgreSQL, else SQLAlchemy's (SQLite, and callers that hold a session).
Db = Session | sa.Connection | DirectConnections


@dataclass(frozen=True)
class Decision:
    submission_id: uuid.UUID
    status: Status
    errors: list[dict[str, str]]


def unit_of(session: Session, submission_id: uuid.UUID) -> int | None:
    """The unit whose rate limit a submission's processing falls under."""
    return session.scalar(sa.select(Submission.unit_id).where(Submission.id == submission_id))


def process(
    db: Db,
    submission_id: uuid.UUID,
    forms: FormCatalogue,
    now: dt.datetime,
    *,
    version: int | None = None,
) -> list[Decision]:
    """Decide the submission and any earlier version still waiting, oldest first; commit.

    ``version``, when the message says it, spares version 1 the search for earlier
    versions. Returns the decisions taken now (empty when there was nothing left to decide).
    """
    rows = _read(db, submission_id, version)
    target = next((row for row in rows if row.id == submission_id), None)
    # Versions are decided in order even when their messages arrive out of order; a
    # target already decided (a duplicate message) decides nothing.
    pending = [] if target is None or target.status in _FINAL else [row for row in rows if row.status not in _FINAL]
    decisions = [_decide(row, forms) for row in pending]
    written = _write(db, decisions, submission_id, now)
    return [d for d in decisions if d.submission_id in written]


def _read(db: Db, submission_id: uuid.UUID, version: int | None) -> list[Any]:
    params = {"id": submission_id, "final": list(_FINAL)}
    if isinstance(db, DirectConnections):
        return [_Stored(*row) for row in db.all(_ONE_PG if version == 1 else _WITH_EARLIER_PG, params)]
    return list(_connection(db).execute(_ONE if version == 1 else _WITH_EARLIER, params).all())


def _write(db: Db, decisions: list[Decision], submission_id: uuid.UUID, now: dt.datetime) -> set[uuid.UUID]:
    """Write the decisions; drop their outbox rows (a duplicate's own when there is none)."""
    # Planned at every call, never from a cached plan: a connection's plan is fixed on its
    # first few calls, when the outbox is nearly empty and a sequential scan is cheapest, and
    # later reused when the outbox holds every report still undecided (a deadline backlog,
    # a relay's catch-up) and dead rows no vacuum has yet removed: measured, 155 pages read
    # a decision instead of 3 through the index on resource_id.
    params = _decide_params(decisions, submission_id, now)
    if isinstance(db, DirectConnections):
        return {row[0] for row in db.all(_DECIDE_PG, params, prepare=False)}
    conn = _connection(db)
    if conn.dialect.name == "postgresql":
        driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
        threshold, driver.prepare_threshold = driver.prepare_threshold, None
        try:
            written = {row[0] for row in conn.exec_driver_sql(_DECIDE_PG, params)}
        finally:
            driver.prepare_threshold = threshold
    else:
        written = {d.submission_id for d in decisions if _decide_one(conn, d, now)}
        conn.execute(sa.delete(OutboxEntry).where(OutboxEntry.resource_id.in_(params["resource_ids"])))
    db.commit()
    return written


def _connection(db: Session | sa.Connection) -> sa.Connection:
    return db.connection() if isinstance(db, Session) else db


def _decide_one(conn: sa.Connection, decision: Decision, now: dt.datetime) -> bool:
    done = conn.execute(
        sa.update(Submission)
        .where(Submission.id == decision.submission_id, Submission.status.not_in(_FINAL))
        .values(status=decision.status.value, errors=decision.errors, processed_at=now)
    )
    return bool(done.rowcount)


class _Stored(NamedTuple):
    id: uuid.UUID
    version: int
    status: str
    form_code: str
    form_version: str
    figures: dict[str, Any]


_FINAL = tuple(s.value for s in FINAL_STATUSES)
_COLUMNS = (Submission.id, Submission.version, Submission.status, Submission.form_code, Submission.form_version)
_ONE = sa.select(*_COLUMNS, Submission.figures).where(Submission.id == sa.bindparam("id"))
_target = sa.select(Submission.unit_id, Submission.period_id, Submission.form_code, Submission.version).where(
    Submission.id == sa.bindparam("id")
)
_t = _target.subquery()
_WITH_EARLIER = (
    sa.select(*_COLUMNS, Submission.figures)
    .join(
        _t,
        sa.and_(
            Submission.unit_id == _t.c.unit_id,
            Submission.period_id + 0 == _t.c.period_id,  # the unique index (models/intake.py UNIT_INDEX_ONLY)
            Submission.form_code == _t.c.form_code,
            Submission.version <= _t.c.version,
        ),
    )
    .where(
        sa.or_(
            Submission.id == sa.bindparam("id"),
            Submission.status.not_in(sa.bindparam("final", expanding=True)),
        )
    )
    .order_by(Submission.version)
)
# The same two reads for a worker's own connection on PostgreSQL (DirectConnections).
_ONE_PG = """
SELECT id, version, status, form_code, form_version, figures FROM submissions WHERE id = %(id)s
"""
_WITH_EARLIER_PG = """
SELECT s.id, s.version, s.status, s.form_code, s.form_version, s.figures
FROM submissions AS t
JOIN submissions AS s ON s.unit_id = t.unit_id AND s.period_id + 0 = t.period_id
  AND s.form_code = t.form_code AND s.version <= t.version
WHERE t.id = %(id)s AND (s.id = %(id)s OR s.status <> ALL(%(final)s::text[]))
ORDER BY s.version
"""
# Every decision in one UPDATE, of rows still undecided only, and their outbox rows gone
# in the same statement (a duplicate's own when it decides nothing). RETURNING says which
# decisions this call took.
_DECIDE_PG = """
WITH gone AS (DELETE FROM outbox WHERE resource_id = ANY(%(resource_ids)s))
UPDATE submissions SET status = d.status, errors = d.errors::jsonb, processed_at = %(now)s
FROM unnest(%(ids)s::uuid[], %(statuses)s::text[], %(errors)s::text[]) AS d(id, status, errors)
WHERE submissions.id = d.id AND submissions.status <> ALL(%(final)s::text[])
RETURNING submissions.id
"""


def _decide_params(decisions: list[Decision], submission_id: uuid.UUID, now: dt.datetime) -> dict[str, Any]:
    return {
        "resource_ids": [str(d.submission_id) for d in decisions] or [str(submission_id)],
        "ids": [d.submission_id for d in decisions],
        "statuses": [d.status.value for d in decisions],
        "errors": [json.dumps(d.errors, ensure_ascii=False) for d in decisions],
        "now": now,
        "final": list(_FINAL),
    }


def _decide(row: sa.Row[Any], forms: FormCatalogue) -> Decision:
    form = forms.version(row.form_code, row.form_version)
    if form is None:
        errors = [{"rule": "form", "message": f"form {row.form_code} {row.form_version} is no longer defined"}]
    else:
        errors = form.check(row.figures)
    return Decision(row.id, Status.REJECTED if errors else Status.ACCEPTED, errors)
