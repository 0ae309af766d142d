"""A form computed from final records by SQL aggregation in PostgreSQL, per direct child.

``compute_form(session, form, period, unit)`` runs at most one query per record table
the form reads (receptions, reception sessions, petitions; ``models/form_query.py``
builds them from the columns' ``count`` specs) and returns the figures of the unit's
subtree for the period's data window, one row per direct child of the unit. The queries
give each unit's figures, which are stored and added up (``models/form_cache.py``): only
the units whose records changed since are read again.

Decisions:

- **Rows.** One row per direct child of ``unit`` that was open at some day of the period
  (the tree as it stood: a district abolished after the period still has its row), in
  code order; a child that holds counted records although it was not open then (say a
  carried-over petition) gets its row too, so nothing counted is lost. Records the root
  unit holds itself come first, as a row for the root's own code.
- **Total.** ``columns`` is the sum of the rows for every figure (``sum_of`` columns are
  then the sum of their parts). Distinct cases are counted per holding unit and added
  up, as the units' own reports add up the tree (``models/form_query.py``).
- **Types.** ``count`` columns are ``int``, ``amount`` columns ``Decimal``, ``note``
  columns the text of their note lines whose count is not zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import form_cache
from models.errors import NotAvailable
from models.form_query import SourceQuery, compile_source, counts_by_source
from models.forms import FormVersion
from models.periods import Period
from models.units import Unit, open_during_clause

Figure = int | Decimal | str


@dataclass(frozen=True)
class ChildFigures:
    unit: str  # child unit code
    name: str  # its name (NFC)
    columns: dict[str, Figure]


@dataclass(frozen=True)
class ComputedForm:
    form: str
    version: str
    period: str
    unit: str
    columns: dict[str, Figure]
    children: list[ChildFigures]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: amounts as strings (exact decimals), counts as numbers, notes as text."""
        return {
            "form": self.form,
            "version": self.version,
            "period": self.period,
            "unit": self.unit,
            "columns": _json_columns(self.columns),
            "children": [{"unit": c.unit, "name": c.name, "columns": _json_columns(c.columns)} for c in self.children],
        }


def _json_columns(columns: dict[str, Figure]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in columns.items()}


@cache
def compiled(form: FormVersion) -> tuple[SourceQuery, ...]:
    """The form's queries, one per record table it reads (compiled once per form version)."""
    return tuple(compile_source(source, counts) for source, counts in counts_by_source(form).items())


def require_postgresql(session: Session) -> None:
    """Forms are computed by PostgreSQL aggregation (``models/form_query.py``); say so on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        raise NotAvailable(
            "forms are computed by PostgreSQL, and this installation runs on the embedded SQLite database"
            " (DATABASE_URL unset): set DATABASE_URL to a PostgreSQL database to compute forms, prefill and"
            " reconcile reports"
        )


def compute_form(
    session: Session,
    form: FormVersion,
    period: Period,
    unit: Unit,
    *,
    progress: Callable[[float], None] | None = None,
    cached: bool = True,
) -> ComputedForm:
    """The form's figures for ``unit``'s subtree and ``period``'s data window (see the module doc).

    ``cached``: add up the units' stored figures, computing only the missing or stale ones
    (``models/form_cache.py``; they are stored in the caller's transaction, kept when it
    commits); false reads every record again and stores nothing.
    """
    require_postgresql(session)
    raw: dict[str, dict[str, Decimal]] = {}  # child code -> count key -> value
    queries = compiled(form)
    # JIT compiling these wide FILTER lists costs more than it saves (measured: bench/reports.py).
    session.execute(sa.text("SET LOCAL jit = off"))
    if cached:
        form_cache.hold(session)
    window = form_cache.Window(period.starts_on, period.ends_on, _escape_like(unit.path) + "%", len(unit.path))
    for done, query in enumerate(queries, start=1):
        for child, values in _child_figures(session, query, window, cached):
            raw.setdefault(child, {}).update({key: Decimal(v or 0) for key, v in zip(query.keys, values, strict=True)})
        if progress is not None:
            progress(done / len(queries))
    rows = _rows(session, unit, period, raw)
    children = [ChildFigures(code, name, _figures(form, raw.get(key, {}))) for key, code, name in rows]
    total = {key: sum((raw.get(child, {}).get(key, Decimal(0)) for child in raw), Decimal(0)) for key in _keys(raw)}
    return ComputedForm(form.code, form.version, period.code, unit.code, _figures(form, total), children)


def _child_figures(
    session: Session, query: SourceQuery, window: form_cache.Window, cached: bool
) -> list[tuple[str, list[Any]]]:
    if cached:
        return list(form_cache.child_totals(session, query, window).items())
    params = {"start": window.start, "end": window.end, "root_like": window.root_like}
    params["root_length"] = window.root_length
    return [(row[0], list(row[1:])) for row in session.execute(sa.text(query.sql), {**params, **query.binds})]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _keys(raw: dict[str, dict[str, Decimal]]) -> set[str]:
    return {key for values in raw.values() for key in values}


def _rows(
    session: Session, root: Unit, period: Period, raw: dict[str, dict[str, Decimal]]
) -> list[tuple[str, str, str]]:
    """(key in ``raw``, unit code, name) of every row: the root's own, then the children."""
    open_then = open_during_clause(period.starts_on, period.ends_on)
    holding = [code for code in raw if code]
    children = session.execute(
        sa.select(Unit.code, Unit.name)
        .where(Unit.parent_id == root.id, sa.or_(open_then, Unit.code.in_(holding)))
        .order_by(Unit.code)
    ).all()
    rows = [(code, code, name) for code, name in children]
    if "" in raw:
        rows.insert(0, ("", root.code, root.name))
    return rows


def _figures(form: FormVersion, counted: dict[str, Decimal]) -> dict[str, Figure]:
    """Every column's figure from the counted values (``sum_of`` totals, notes text, types)."""
    values: dict[int, Decimal] = {}

    def value(number: int) -> Decimal:
        if number not in values:
            compute = form.columns[number - 1].compute
            if compute.sum_of:
                values[number] = sum((value(part) for part in compute.sum_of), Decimal(0))
            else:
                values[number] = counted.get(str(number), Decimal(0))
        return values[number]

    figures: dict[str, Figure] = {}
    for column in form.columns:
        if column.kind == "note":
            figures[str(column.number)] = _note(column.number, column.compute, counted)
        elif column.kind == "amount":
            figures[str(column.number)] = value(column.number)
        else:
            figures[str(column.number)] = int(value(column.number))
    return figures


def _note(number: int, compute: Any, counted: dict[str, Decimal]) -> str:
    lines = compute.notes.lines if compute.notes else []
    texts = []
    for i, line in enumerate(lines):
        n = int(counted.get(f"{number}.n{i}", Decimal(0)))
        if n:
            texts.append(line.text.replace("{n}", str(n)))
    return "; ".join(texts)
