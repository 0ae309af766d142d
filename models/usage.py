"""Usage statistics (the province's table from the seed report) for any subtree.

Two grouped queries, whatever the subtree's size: accounts per unit, and final records
per unit since the given day. An account counts when it is not disabled; it is active
when it authenticated on or after ``since``; a unit has data when it holds at least one
final reception or petition received on or after ``since``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.accounts import Account
from models.records import Petition, Reception, Status
from models.units import Unit, open_during_clause, subtree_clause


def _since_instant(since: dt.date) -> dt.datetime:
    return dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)


def _accounts_per_unit(session: Session, root: Unit, since: dt.date) -> list[Any]:
    active = Account.last_seen_at >= _since_instant(since)
    stmt = (
        sa.select(
            Unit.id,
            Unit.code,
            Unit.name,
            sa.func.count(Account.id).label("issued"),
            sa.func.count(Account.id).filter(active).label("active"),
        )
        .outerjoin(Account, sa.and_(Account.unit_id == Unit.id, Account.disabled.is_(False)))
        .where(subtree_clause(root.path), open_during_clause(since, dt.date.max))
        .group_by(Unit.id, Unit.code, Unit.name, Unit.path)
        .order_by(Unit.path)
    )
    return list(session.execute(stmt))


def _records_per_unit(session: Session, root: Unit, since: dt.date) -> dict[tuple[int, str], int]:
    in_tree = sa.select(Unit.id).where(subtree_clause(root.path))
    parts = [
        sa.select(model.unit_id, sa.literal(kind).label("kind"), sa.func.count().label("n"))
        .where(model.status == Status.FINAL, model.received_on >= since, model.unit_id.in_(in_tree))
        .group_by(model.unit_id)
        for model, kind in ((Reception, "receptions"), (Petition, "petitions"))
    ]
    return {(unit_id, kind): n for unit_id, kind, n in session.execute(sa.union_all(*parts))}


def usage(session: Session, root: Unit, since: dt.date) -> dict[str, Any]:
    """The CONTRACT's usage figures for ``root``'s subtree, with one row per unit."""
    counts = _records_per_unit(session, root, since)
    by_unit = []
    for row in _accounts_per_unit(session, root, since):
        receptions, petitions = counts.get((row.id, "receptions"), 0), counts.get((row.id, "petitions"), 0)
        by_unit.append(
            {
                "unit": row.code,
                "name": row.name,
                "accounts_issued": row.issued,
                "accounts_active": row.active,
                "has_data": receptions + petitions > 0,
                "receptions": receptions,
                "petitions": petitions,
            }
        )
    return {
        "unit": root.code,
        "since": since.isoformat(),
        "units": len(by_unit),
        "units_with_data": sum(1 for u in by_unit if u["has_data"]),
        "accounts_issued": sum(u["accounts_issued"] for u in by_unit),
        "accounts_active": sum(u["accounts_active"] for u in by_unit),
        "by_unit": by_unit,
    }
