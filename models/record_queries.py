"""Listing receptions and petitions: filters over a unit's subtree, and stable pages.

The filters are a dataclass so that other parts (the workflow's ``?overdue=`` and
``?stuck=``) add conditions through ``RecordFilters.extra`` without touching the rest.
Pages are ordered by (received_on, id), newest first; the cursor is the last row's
pair, so a page never repeats or skips a row when records are added meanwhile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.errors import Invalid
from models.records import Petition, Reception
from models.units import Unit, subtree_clause

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

R = TypeVar("R", Reception, Petition)


@dataclass
class RecordFilters:
    """What a list asks for; every filter is optional except the subtree."""

    unit_path: str
    since: dt.date | None = None
    until: dt.date | None = None
    status: str | None = None
    content_type: str | None = None
    field: str | None = None
    case_id: int | None = None
    kind: str | None = None  # receptions only
    source: str | None = None  # petitions only
    extra: list[sa.ColumnElement[bool]] = dataclasses.field(default_factory=list)


def _common(model: type[R], f: RecordFilters) -> sa.Select[Any]:
    stmt = sa.select(model).join(Unit, Unit.id == model.unit_id).where(subtree_clause(f.unit_path))
    equal = {"status": f.status, "content_type": f.content_type, "field": f.field, "case_id": f.case_id}
    for name, value in equal.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    if f.since is not None:
        stmt = stmt.where(model.received_on >= f.since)
    if f.until is not None:
        stmt = stmt.where(model.received_on <= f.until)
    return stmt.where(*f.extra)


def reception_query(f: RecordFilters) -> sa.Select[Any]:
    stmt = _common(Reception, f)
    return stmt if f.kind is None else stmt.where(Reception.kind == f.kind)


def petition_query(f: RecordFilters) -> sa.Select[Any]:
    stmt = _common(Petition, f)
    return stmt if f.source is None else stmt.where(Petition.source == f.source)


def parse_cursor(cursor: str | None) -> tuple[dt.date, int] | None:
    if not cursor:
        return None
    day, _, last_id = cursor.partition("~")
    try:
        after = dt.date.fromisoformat(day), int(last_id)
    except ValueError:
        after = None
    if after is None or not 0 <= after[1] < 2**63:
        raise Invalid.field("cursor", "pass back the `next` value of the previous page unchanged")
    return after


def page(
    session: Session, stmt: sa.Select[Any], model: type[R], limit: int, cursor: str | None
) -> tuple[list[R], str | None]:
    """One page of ``stmt``'s rows, newest first, and the cursor of the next page (None at the end)."""
    after = parse_cursor(cursor)
    if after is not None:
        stmt = stmt.where(
            sa.tuple_(model.received_on, model.id) < sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    stmt = stmt.order_by(model.received_on.desc(), model.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], f"{last.received_on.isoformat()}~{last.id}"
