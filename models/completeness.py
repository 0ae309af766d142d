"""Who in a subtree has reported a form for a period: the figure operators watch at deadline night."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.periods import Period
from models.submissions import Status, Submission
from models.units import Unit, open_during_clause, path_codes, subtree_clause


@dataclass
class Tally:
    expected: int = 0
    submitted: int = 0
    on_time: int = 0
    late: int = 0
    pending: int = 0
    missing: list[str] = field(default_factory=list)

    def count(self, code: str, state: str) -> None:
        self.expected += 1
        if state in ("on_time", "late"):
            self.submitted += 1
            setattr(self, state, getattr(self, state) + 1)
            return
        if state == "pending":
            self.pending += 1
        self.missing.append(code)

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "submitted": self.submitted,
            "on_time": self.on_time,
            "late": self.late,
            "pending": self.pending,
            "missing": sorted(self.missing),
        }


def completeness(session: Session, period: Period, root: Unit, form: str) -> dict[str, Any]:
    """Counts for the subtree of ``root`` and for each direct child's subtree.

    A unit is expected when it was open during the period and reports to someone (the
    root of the whole tree reports to nobody). It has submitted when a version was
    accepted; it is on time when an accepted version arrived on time. A unit whose
    reports are all still queued is ``pending`` and stays in ``missing`` until decided.
    """
    units = session.execute(
        sa.select(Unit.code, Unit.name, Unit.path, Unit.parent_id)
        .where(subtree_clause(root.path), open_during_clause(period.starts_on, period.ends_on))
        .order_by(Unit.path)
    ).all()
    states = _states(session, period, root, form)
    depth = len(path_codes(root.path))
    total, children = Tally(), {}
    names = {}
    for code, name, path, parent_id in units:
        codes = path_codes(path)
        if len(codes) == depth + 1:
            children[code] = Tally()
            names[code] = name
        if parent_id is None:
            continue
        state = states.get(code, "missing")
        total.count(code, state)
        if len(codes) > depth:
            # A child closed before the period is not in ``units``, but open units below it are.
            children.setdefault(codes[depth], Tally()).count(code, state)
    return {
        "period": period.code,
        "unit": root.code,
        "form": form,
        **total.as_dict(),
        "children": [{"unit": code, "name": names.get(code), **tally.as_dict()} for code, tally in children.items()],
    }


def _states(session: Session, period: Period, root: Unit, form: str) -> dict[str, str]:
    rows = session.execute(
        sa.select(Unit.code, Submission.status, sa.func.max(sa.case((Submission.on_time, 1), else_=0)))
        .join(Submission, Submission.unit_id == Unit.id)
        .where(Submission.period_id == period.id, Submission.form_code == form, subtree_clause(root.path))
        .group_by(Unit.code, Submission.status)
    ).all()
    found: dict[str, set[str]] = defaultdict(set)
    for code, status, any_on_time in rows:
        if status == Status.ACCEPTED:
            found[code].add("on_time" if any_on_time else "late")
        elif status in (Status.QUEUED, Status.PROCESSING):
            found[code].add("pending")
    return {code: _state(kinds) for code, kinds in found.items()}


def _state(kinds: set[str]) -> str:
    for state in ("on_time", "late", "pending"):
        if state in kinds:
            return state
    return "missing"
