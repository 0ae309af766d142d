"""Figures kept per holding unit, so a national form adds up 4,000 stored rows instead of
reading every record of the period again (``models/form_sql.py`` ``compute_form``).

A form's query for one record table (``SourceQuery``) gives, for each unit, the figures of
the records it holds. Those are additive up the tree (distinct cases are counted per
holding unit, ``models/form_query.py``), so a subtree's row per child is the sum of its
units' rows. This module stores each unit's figures per query and data window, with the
PostgreSQL snapshot taken just before they were computed, and recomputes only the units
whose records changed since.

**What changed.** Statement-level triggers (migration 0009) log every insert, update and
delete of receptions, reception sessions, petitions, handling rows and petition events in
``form_changes``: the unit holding the record, its case, and the writing transaction's id.
A unit's stored figures are stale when a logged change the figures' snapshot does not see
(``pg_visible_in_snapshot``) touched the unit, or the case of a final record the unit
holds (a case's facts, such as "new in the period" or its result, are shared by every
unit holding its records). Snapshots, not timestamps or deletions: a computation that
read the records before a change committed but stored its figures after is still caught.
TRUNCATE of a record table empties the cache.

**Compaction.** ``compact`` (first step of the scheduler's ``refresh_form_figures`` job,
``models/form_refresh.py``) drops the figures
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
    snapshot: Mapped[str] = mapped_column(sa.Text)  # pg_snapshot taken just before the computation
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

# Joins are left to Python: a subtree's units, the stored rows and the stale ones are each
# read by the index alone, so no plan depends on estimates (a freshly imported unit tree has
# none, and a nested loop of 4,000 units by 4,000 rows took 1.5 s).
_SUBTREE = f"SELECT unit_id, child FROM ({BY_CHILD}) m"  # noqa: S608
_STORED = f"SELECT f.unit_id, f.figures FROM form_unit_figures f WHERE {_SAME_QUERY}"  # noqa: S608
# A subtree of up to this many units reads its rows by key (a province: 5 ms); a larger one
# the query's whole range, which is quicker than 4,000 keys (nation: 30 ms against 75 ms).
BY_KEYS_UP_TO = 1000
_STALE = f"""WITH touched AS MATERIALIZED ({_TOUCHED.format(changes="form_changes")})
SELECT DISTINCT f.unit_id FROM touched t
JOIN form_unit_figures f ON {_SAME_QUERY} AND f.unit_id = t.unit_id
WHERE {_UNSEEN}"""  # noqa: S608

# Stored with the snapshot taken before the computation read anything: a change committed
# in between is unseen by it, so the unit is computed once more later (never less).
_SNAPSHOT = "SELECT CAST(pg_current_snapshot() AS text)"
_UPSERT = """INSERT INTO form_unit_figures (query_key, starts_on, ends_on, unit_id, figures, snapshot, computed_at)
{rows}
ON CONFLICT (query_key, starts_on, ends_on, unit_id)
    DO UPDATE SET figures = excluded.figures, snapshot = excluded.snapshot, computed_at = excluded.computed_at
RETURNING unit_id, figures"""
# The units of ``:units`` holding counted records; rows in unit order, so concurrent
# computations lock them in the same order.
_COMPUTE = "WITH computed AS ({query})\n" + _UPSERT.format(
    rows="SELECT :key, :start, :end, CAST(c.child AS bigint), ARRAY[{columns}]::numeric[], :snapshot, now()\n"
    "FROM computed c ORDER BY 4"
)
# The others: zeros.
_ZEROS = _UPSERT.format(
    rows="SELECT :key, :start, :end, u.id, array_fill(0::numeric, ARRAY[CAST(:n AS int)]), :snapshot, now()\n"
    "FROM unnest(CAST(:units AS bigint[])) AS u(id) ORDER BY u.id"
)


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
    same = {"key": query_key(query), "start": window.start, "end": window.end}
    subtree = {"root_like": window.root_like, "root_length": window.root_length}
    child_of: dict[int, str] = dict(session.execute(sa.text(_SUBTREE), subtree).all())
    if len(child_of) <= BY_KEYS_UP_TO:
        stored = session.execute(sa.text(_STORED + " AND f.unit_id = ANY(:units)"), {**same, "units": list(child_of)})
    else:
        stored = session.execute(sa.text(_STORED), same)
    figures = {unit_id: list(values) for unit_id, values in stored if unit_id in child_of}
    for unit_id in session.scalars(sa.text(_STALE), same):
        figures.pop(unit_id, None)
    missing = sorted(set(child_of) - set(figures))
    if missing:
        figures.update(_compute(session, query, same, missing))
    totals: dict[str, list[Decimal]] = {}
    for unit_id, values in figures.items():
        if not any(values):
            continue
        total = totals.setdefault(child_of[unit_id], [Decimal(0)] * len(values))
        for i, value in enumerate(values):
            total[i] += value
    return totals


def _compute(session: Session, query: SourceQuery, same: dict[str, Any], units: list[int]) -> dict[int, list[Decimal]]:
    """Compute and store ``units``' figures; returns them."""
    snapshot = session.scalar(sa.text(_SNAPSHOT))
    columns = ", ".join(f"c.c{i}" for i in range(len(query.keys)))
    sql = _COMPUTE.format(query=query.sql_by_unit, columns=columns)
    params = {**same, "units": units, "snapshot": snapshot}
    done = {int(u): list(v) for u, v in session.execute(sa.text(sql), {**params, **query.binds})}
    rest = [unit_id for unit_id in units if unit_id not in done]
    if rest:
        zeros = session.execute(sa.text(_ZEROS), {**params, "units": rest, "n": len(query.keys)})
        done.update({int(u): list(v) for u, v in zeros})
    return done


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
