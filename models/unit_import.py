"""Importing the unit tree from CSV (``code,name,parent_code,level``, rows in any order)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.errors import Invalid
from models.text import nfc
from models.units import CODE_PATTERN, Unit, child_path, path_codes

REQUIRED = ("code", "name", "parent_code", "level")
OPTIONAL_DATES = ("opened_on", "closed_on")


@dataclass(frozen=True)
class UnitRow:
    line: int
    code: str
    name: str
    parent_code: str | None
    level: str
    opened_on: dt.date | None
    closed_on: dt.date | None


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def parse_csv(text: str) -> list[UnitRow]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"the header must be {','.join(REQUIRED)}; missing {', '.join(missing)}")
    rows, seen = [], set()
    for line, raw in enumerate(reader, start=2):
        row = _row(line, raw)
        if row.code in seen:
            raise Invalid(f"line {line}: unit {row.code} appears twice in the file")
        seen.add(row.code)
        rows.append(row)
    return rows


def _row(line: int, raw: dict[str, str | None]) -> UnitRow:
    code = (raw.get("code") or "").strip()
    if not CODE_PATTERN.match(code):
        raise Invalid(f"line {line}: code {code!r} must be 1-64 letters, digits, '.', '_' or '-'")
    name = nfc((raw.get("name") or "").strip()) or ""
    if not name:
        raise Invalid(f"line {line}: unit {code} has no name")
    level = (raw.get("level") or "").strip().lower()
    if not level:
        raise Invalid(f"line {line}: unit {code} has no level (e.g. province, commune)")
    dates = {key: _date(line, key, raw.get(key)) for key in OPTIONAL_DATES}
    parent = (raw.get("parent_code") or "").strip() or None
    return UnitRow(line, code, name, parent, level, dates["opened_on"], dates["closed_on"])


def _date(line: int, key: str, value: str | None) -> dt.date | None:
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"line {line}: {key} {value!r} is not a date (YYYY-MM-DD)") from None


def import_units(session: Session, rows: Iterable[UnitRow]) -> ImportResult:
    """Create or update units so the tree matches the rows; all or nothing (the caller commits).

    A re-import updates names, levels and parents (moving a whole branch); dates are
    changed only where the file gives one.
    """
    rows = list(rows)
    units = {u.code: u for u in session.scalars(sa.select(Unit))}
    parent_of = {code: _parent_code(u.path) for code, u in units.items()}
    parent_of.update({row.code: row.parent_code for row in rows})
    paths = _paths(rows, parent_of)
    created = 0
    for row in rows:
        unit = units.get(row.code)
        if unit is None:
            unit = units[row.code] = Unit(code=row.code)
            session.add(unit)
            created += 1
        unit.name, unit.level = row.name, row.level
        unit.opened_on = row.opened_on or unit.opened_on
        unit.closed_on = row.closed_on or unit.closed_on
    for code, unit in units.items():
        unit.path = paths[code]
    session.flush()  # gives the new units their ids
    for code, unit in units.items():
        parent = parent_of[code]
        unit.parent_id = units[parent].id if parent else None
    session.flush()
    return ImportResult(created=created, updated=len(rows) - created)


def _parent_code(path: str) -> str | None:
    codes = path_codes(path)
    return codes[-2] if len(codes) > 1 else None


def _paths(rows: list[UnitRow], parent_of: dict[str, str | None]) -> dict[str, str]:
    lines = {row.code: row.line for row in rows}
    paths: dict[str, str] = {}

    def resolve(code: str, trail: tuple[str, ...]) -> str:
        if code in paths:
            return paths[code]
        if code in trail:
            raise Invalid(f"line {lines.get(code, '?')}: unit {code} is its own ancestor ({' > '.join(trail)})")
        parent = parent_of.get(code)
        if parent is not None and parent not in parent_of:
            raise Invalid(
                f"line {lines.get(code, '?')}: parent_code {parent} is neither in the file nor imported before"
            )
        paths[code] = child_path(resolve(parent, (*trail, code)) if parent else None, code)
        return paths[code]

    # The file's rows first, so that a cycle through units imported before names a line.
    for code in (*lines, *parent_of):
        resolve(code, ())
    return paths
