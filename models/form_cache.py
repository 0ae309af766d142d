"""Figures kept per holding unit, so a national form adds up 4,000 stored rows instead of
reading every record of the period again (``models/form_sql.py`` ``compute_form``).

A form's query for one record table (``SourceQuery``) gives, for each unit, the figures of
the records it holds. Those are additive up the tree (distinct cases are counted per
holding unit, ``models/form_query.py``), so a subtree's row per child is the sum of its
units' rows. This module stores each unit's figures per query and data window, with the
PostgreSQL snapshot they were computed in, and recomputes only the units whose records
changed since.

**What changed.** Statement-level triggers (migration 0009) log every insert, update and
delete of receptions, reception sessions, petitions, handling rows and petition events in
``form_changes``: the unit holding the record, its case, and the writing transaction's id.
A unit's stored figures are stale when a logged change the figures' snapshot does not see
(``pg_visible_in_snapshot``) touched the unit, or the case of a final record the unit
holds (a case's facts, such as "new in the period" or its result, are shared by every
unit holding its records). Snapshots, not timestamps or deletions: a computation that
read the records before a change committed but stored its figures after is still caught.
TRUNCATE of a record table empties the cache.

**Compaction.** ``compact`` (the scheduler's ``compact_form_cache`` job) drops the figures
that committed changes made stale, then those changes, so the log stays short. It takes
an exclusive advisory lock; every computation holds it shared until its transaction ends,
so no figures computed before a change committed can be stored after the change is gone.
If a computation is running, compaction waits for the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime, intpk, utcnow
from models.form_query import BY_CHILD, SourceQuery

# pg_advisory_xact_lock key shared by computations and taken alone by compaction ("KNTCFORM").
LOCK_KEY = 0x4B4E5443464F524D
FIGURES_TYPE = postgresql.ARRAY(sa.Numeric()).with_variant(sa.JSON(), "sqlite")


class FormChange(Base):
    """A write to records a form counts (rows inserted by the triggers of migration 0009)."""

    __tablename__ = "form_changes"

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.BigInteger)
    case_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The writing transaction (PostgreSQL only: on SQLite nothing writes this table).
    xid: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("(pg_current_xact_id()::text::bigint)"))


class UnitFigures(Base):
    """One unit's figures of one form query over one data window."""

    __tablename__ = "form_unit_figures"

    query_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    starts_on: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    ends_on: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    figures: Mapped[list[Decimal]] = mapped_column(FIGURES_TYPE)  # in the order of SourceQuery.keys
    snapshot: Mapped[str] = mapped_column(sa.Text)  # pg_snapshot of the computing statement
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


def query_key(query: SourceQuery) -> str:
    """A query's identity: its SQL and bound values (a changed form file gets new figures)."""
    text = json.dumps([query.body, sorted(query.binds.items()), query.keys], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Every unit a logged change touches: its own, and each holder of a final record of its case.
_TOUCHED = """SELECT c.xid, u.unit_id FROM {changes} c
    CROSS JOIN LATERAL (
        SELECT c.unit_id
        UNION SELECT r.unit_id FROM receptions r WHERE r.case_id = c.case_id AND r.status = 'final'
        UNION SELECT p.unit_id FROM petitions p WHERE p.case_id = c.case_id AND p.status = 'final') u"""
_UNSEEN = "NOT pg_visible_in_snapshot(CAST(CAST(t.xid AS text) AS xid8), CAST(f.snapshot AS pg_snapshot))"
_SAME_QUERY = "f.query_key = :key AND f.starts_on = :start AND f.ends_on = :end"

# The stored figures of every unit of the subtree (``m``), null where missing or stale.
# Each step MATERIALIZED: the log is small, the subtree's stored rows few thousand, and
# a plan that probes the stored rows once per logged change reads them thousands of times.
_STORED = f"""WITH m AS MATERIALIZED ({BY_CHILD}),
stored AS MATERIALIZED (SELECT f.unit_id, f.figures, f.snapshot FROM form_unit_figures f
    JOIN m ON m.unit_id = f.unit_id WHERE {_SAME_QUERY}),
touched AS MATERIALIZED ({_TOUCHED.format(changes="form_changes")}),
stale AS (SELECT DISTINCT f.unit_id FROM touched t JOIN stored f ON f.unit_id = t.unit_id WHERE {_UNSEEN})
SELECT m.unit_id, m.child, CASE WHEN s.unit_id IS NULL THEN f.figures END
FROM m
LEFT JOIN stored f ON f.unit_id = m.unit_id
LEFT JOIN stale s ON s.unit_id = m.unit_id"""  # noqa: S608

# Compute ``:units`` and store their figures with the statement's own snapshot: the one the
# figures were read in. Rows in unit order, so concurrent computations lock them in order.
_COMPUTE = """WITH computed AS ({query}),
snap AS MATERIALIZED (SELECT CAST(pg_current_snapshot() AS text) AS snapshot)
INSERT INTO form_unit_figures (query_key, starts_on, ends_on, unit_id, figures, snapshot, computed_at)
SELECT :key, :start, :end, u.id,
       CASE WHEN c.child IS NULL THEN array_fill(0::numeric, ARRAY[{n}]) ELSE ARRAY[{columns}]::numeric[] END,
       snap.snapshot, now()
FROM unnest(CAST(:units AS bigint[])) AS u(id)
LEFT JOIN computed c ON c.child = CAST(u.id AS text)
CROSS JOIN snap
ORDER BY u.id
ON CONFLICT (query_key, starts_on, ends_on, unit_id)
    DO UPDATE SET figures = excluded.figures, snapshot = excluded.snapshot, computed_at = excluded.computed_at
RETURNING unit_id, figures"""


@dataclass(frozen=True)
class Window:
    """The subtree and data window of one computation (``compute_form``'s parameters)."""

    start: dt.date
    end: dt.date
    root_like: str
    root_length: int


def hold(session: Session) -> None:
    """Take the computations' shared lock for this transaction (before any figures are read)."""
    session.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": LOCK_KEY})


def child_totals(session: Session, query: SourceQuery, window: Window) -> dict[str, list[Decimal]]:
    """The query's figures per direct child of the root, from stored unit figures; the
    missing or stale units are computed first (and stored). ``hold`` must have been called.
    """
    key = query_key(query)
    params: dict[str, Any] = {
        "key": key,
        "start": window.start,
        "end": window.end,
        "root_like": window.root_like,
        "root_length": window.root_length,
    }
    rows = session.execute(sa.text(_STORED), params).all()
    child_of = {unit_id: child for unit_id, child, _ in rows}
    figures = {unit_id: values for unit_id, _, values in rows if values is not None}
    missing = sorted(unit_id for unit_id, _, values in rows if values is None)
    if missing:
        figures.update(_compute(session, query, {**params, "units": missing}))
    totals: dict[str, list[Decimal]] = {}
    for unit_id, values in figures.items():
        if not any(values):
            continue
        total = totals.setdefault(child_of[unit_id], [Decimal(0)] * len(values))
        for i, value in enumerate(values):
            total[i] += value
    return totals


def _compute(session: Session, query: SourceQuery, params: dict[str, Any]) -> dict[int, list[Decimal]]:
    columns = ", ".join(f"c.c{i}" for i in range(len(query.keys)))
    sql = _COMPUTE.format(query=query.sql_by_unit, columns=columns, n=len(query.keys))
    rows = session.execute(sa.text(sql), {**params, **query.binds})
    return {int(unit_id): list(values) for unit_id, values in rows}


_COMPACT = f"""WITH gone AS (DELETE FROM form_changes RETURNING xid, unit_id, case_id),
touched AS ({_TOUCHED.format(changes="gone")}),
dropped AS (DELETE FROM form_unit_figures f USING touched t WHERE f.unit_id = t.unit_id AND {_UNSEEN}
    RETURNING 1)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM dropped)"""  # noqa: S608


@dataclass(frozen=True)
class Compaction:
    ran: bool
    changes: int = 0
    dropped: int = 0


def compact(session: Session) -> Compaction:
    """Drop the figures committed changes made stale, then the changes; the caller commits.
    Does nothing (``ran`` false) while a computation holds the lock."""
    locked = session.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY}).scalar_one()
    if not locked:
        return Compaction(ran=False)
    changes, dropped = session.execute(sa.text(_COMPACT)).one()
    return Compaction(ran=True, changes=changes, dropped=dropped)
