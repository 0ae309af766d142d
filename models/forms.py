"""Statistical forms as versioned data files, and the identity rules a report must satisfy.

Each file in ``models/forms/`` is one version of one form (its circular and effective
dates, columns with their Vietnamese labels, header groups and ``compute`` specs,
identities), validated when loaded (``models/forms/README.md`` describes the format, the
vocabulary lives in ``models/form_compute.py``). Adding a criterion or a new circular's
layout is adding a file, not changing code.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.form_compute import Compute, FormSpec

FORMS_DIR = Path(__file__).with_name("forms")
_TERM = re.compile(r"^(?:(\d+)\s*\*\s*)?(\d+)$")
_COMPARATORS = ("<=", ">=", "=")


@dataclass(frozen=True)
class Column:
    number: int
    label: str
    group: tuple[str, ...]
    kind: str  # "count", "amount" or "note"
    meaning: str  # in English, for people who read the code and the API
    compute: Compute  # how the figure comes from final records (models/form_compute.py)

    def __hash__(self) -> int:
        # The compute spec holds dicts; a column is known by its number and label within a form.
        return hash((self.number, self.label))

    @property
    def numeric(self) -> bool:
        return self.kind != "note"


@dataclass(frozen=True)
class HeaderCell:
    """One cell of the printed header: ``first``..``last`` columns, ``row`` (0 = top), ``rows`` high.

    A column's own label cell reaches down to the last header row, so a column with a
    shallow group (e.g. "Ghi chú") is one tall merged cell, as on the paper form.
    """

    label: str
    first: int
    last: int
    row: int
    rows: int
    children: tuple[HeaderCell, ...] = ()


def _cells(columns: tuple[Column, ...], depth: int, total_depth: int) -> tuple[HeaderCell, ...]:
    cells: list[HeaderCell] = []
    i = 0
    while i < len(columns):
        column = columns[i]
        if len(column.group) == depth:
            cells.append(HeaderCell(column.label, column.number, column.number, depth, total_depth - depth))
            i += 1
            continue
        prefix = column.group[: depth + 1]
        j = i
        while j < len(columns) and columns[j].group[: depth + 1] == prefix:
            j += 1
        inner = _cells(columns[i:j], depth + 1, total_depth)
        cells.append(HeaderCell(prefix[-1], column.number, columns[j - 1].number, depth, 1, inner))
        i = j
    return tuple(cells)


@dataclass(frozen=True)
class Side:
    """A sum of columns, each with a whole coefficient: ``5*8`` is five times column 8."""

    terms: tuple[tuple[int, int], ...]

    def value(self, figures: Mapping[int, Decimal]) -> Decimal:
        return sum((k * figures.get(col, Decimal(0)) for k, col in self.terms), Decimal(0))

    def __str__(self) -> str:
        return " + ".join(f"{k}*{c}" if k != 1 else str(c) for k, c in self.terms)


@dataclass(frozen=True)
class Identity:
    """A rule such as ``1 = 4 + 13 + 22`` or ``8 <= 4`` (``a = b = c`` chains equalities)."""

    text: str
    sides: tuple[Side, ...]
    comparator: str
    printed: bool

    def breaches(self, figures: Mapping[int, Decimal]) -> str | None:
        """None when the rule holds, else what is wrong, in words."""
        values = [side.value(figures) for side in self.sides]
        first = values[0]
        ok = all(_compare(first, self.comparator, other) for other in values[1:])
        if ok:
            return None
        shown = "; ".join(f"{side} is {_plain(v)}" for side, v in zip(self.sides, values, strict=True))
        return f"{self.text} does not hold: {shown}"


@dataclass(frozen=True)
class FormVersion:
    code: str
    version: str
    title: str
    circular: str
    effective_from: dt.date
    effective_to: dt.date | None
    columns: tuple[Column, ...]
    identities: tuple[Identity, ...]
    title_en: str = ""
    crowd_reading: str | None = None  # "of_which" or "disjoint": how crowd columns relate to totals
    notes: str = ""

    def __hash__(self) -> int:
        # A form version is known by its code and version (a compiled query can be cached on it).
        return hash((self.code, self.version))

    def header(self) -> tuple[HeaderCell, ...]:
        """The header tree: group cells spanning columns, then one cell per column (see HeaderCell)."""
        return _cells(self.columns, 0, self.header_depth)

    @property
    def header_depth(self) -> int:
        """How many header rows the form prints (above the row of column numbers)."""
        return max(len(c.group) for c in self.columns) + 1

    def in_effect_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def column(self, number: int) -> Column | None:
        if 1 <= number <= len(self.columns):
            return self.columns[number - 1]
        return None

    def check(self, figures: Mapping[str, Any]) -> list[dict[str, str]]:
        """Every identity the figures break, one error each (empty when all hold)."""
        values = {int(k): Decimal(str(v)) for k, v in figures.items()}
        errors = []
        for identity in self.identities:
            problem = identity.breaches(values)
            if problem:
                errors.append({"rule": identity.text, "message": problem})
        return errors


def _compare(a: Decimal, comparator: str, b: Decimal) -> bool:
    if comparator == "=":
        return a == b
    if comparator == "<=":
        return a <= b
    return a >= b


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def parse_identity(text: str, printed: bool = False) -> Identity:
    comparator = next((c for c in _COMPARATORS if c in text), None)
    if comparator is None:
        raise ValueError(f"identity {text!r}: expected 'a = b [= c]', 'a <= b' or 'a >= b'")
    sides = tuple(_parse_side(part) for part in text.split(comparator))
    if len(sides) < 2 or (comparator != "=" and len(sides) != 2):
        raise ValueError(f"identity {text!r}: expected 'a = b [= c]', 'a <= b' or 'a >= b'")
    return Identity(text=text, sides=sides, comparator=comparator, printed=printed)


def _parse_side(text: str) -> Side:
    terms = []
    for raw in text.split("+"):
        match = _TERM.match(raw.strip())
        if not match:
            raise ValueError(f"identity term {raw.strip()!r}: expected a column number or k*column")
        terms.append((int(match.group(1) or 1), int(match.group(2))))
    return Side(terms=tuple(terms))


class FormFileError(ValueError):
    """A form file that cannot be used; the message names the file, the column and the rule."""


def load_form(path: Path) -> FormVersion:
    """Read and validate one form file (see ``models/forms/README.md``); FormFileError if it is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormFileError(f"{path.name}: not JSON: {exc}") from exc
    spec = _validated(path.name, data)
    if spec.effective_to is not None and spec.effective_to < spec.effective_from:
        raise FormFileError(
            f"{path.name}: effective_to {spec.effective_to} is before effective_from {spec.effective_from}"
        )
    columns = tuple(Column(c.number, c.label, tuple(c.group), c.kind, c.meaning, c.compute) for c in spec.columns)
    _check_columns(path.name, columns)
    identities = tuple(_identity(path.name, i.rule, i.printed, columns) for i in spec.identities)
    _check_sums(path.name, columns)
    _check_text(path.name, spec.title, columns)
    return FormVersion(
        code=spec.code,
        version=spec.version,
        title=spec.title,
        circular=spec.circular,
        effective_from=spec.effective_from,
        effective_to=spec.effective_to,
        columns=columns,
        identities=identities,
        title_en=spec.title_en,
        crowd_reading=spec.crowd_reading,
        notes=spec.notes,
    )


def _validated(name: str, data: Any) -> FormSpec:
    try:
        return FormSpec.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(data, err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()]
        raise FormFileError(f"{name}: " + "; ".join(problems)) from None


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """``('columns', 7, 'compute', ...)`` -> ``column 8: compute...``: people read column numbers."""
    if len(loc) >= 2 and loc[0] == "columns" and isinstance(loc[1], int):
        raw = data["columns"][loc[1]] if isinstance(data, dict) else {}
        number = raw.get("number", f"#{loc[1] + 1}") if isinstance(raw, dict) else f"#{loc[1] + 1}"
        rest = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        return f"column {number}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc) or "file"


def _check_columns(name: str, columns: tuple[Column, ...]) -> None:
    numbers = [c.number for c in columns]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise FormFileError(f"{name}: duplicate column number(s) {', '.join(map(str, duplicates))}")
    if numbers != list(range(1, len(columns) + 1)):
        raise FormFileError(f"{name}: columns must be numbered 1..N in order, found {numbers}")
    for column in columns:
        for depth in range(1, len(column.group) + 1):
            prefix = column.group[:depth]
            inside = [c.number for c in columns if c.group[:depth] == prefix]
            if inside != list(range(inside[0], inside[-1] + 1)):
                raise FormFileError(
                    f"{name}: column {column.number}: header group {' > '.join(prefix)!r} spans columns {inside},"
                    " which are not side by side; a merged header cell needs adjacent columns"
                )


def _identity(name: str, text: str, printed: bool, columns: tuple[Column, ...]) -> Identity:
    try:
        identity = parse_identity(text, printed)
    except ValueError as exc:
        raise FormFileError(f"{name}: {exc}") from None
    for side in identity.sides:
        for _, col in side.terms:
            if not 1 <= col <= len(columns) or not columns[col - 1].numeric:
                raise FormFileError(f"{name}: identity {text!r} names column {col}, which is not a figure of this form")
    return identity


def _check_sums(name: str, columns: tuple[Column, ...]) -> None:
    for column in columns:
        for part in column.compute.sum_of or ():
            if not 1 <= part <= len(columns) or not columns[part - 1].numeric:
                raise FormFileError(f"{name}: column {column.number}: sum_of names column {part}, not a figure")
    for column in columns:
        _no_cycle(name, columns, column.number, ())


def _no_cycle(name: str, columns: tuple[Column, ...], number: int, seen: tuple[int, ...]) -> None:
    if number in seen:
        chain = " -> ".join(map(str, (*seen, number)))
        raise FormFileError(f"{name}: column {seen[0]}: sum_of refers back to itself ({chain})")
    for part in columns[number - 1].compute.sum_of or ():
        _no_cycle(name, columns, part, (*seen, number))


def _check_text(name: str, title: str, columns: tuple[Column, ...]) -> None:
    texts = [("title", title)] + [(f"column {c.number}", t) for c in columns for t in (c.label, *c.group)]
    for where, text in texts:
        if not unicodedata.is_normalized("NFC", text):
            raise FormFileError(f"{name}: {where}: {text!r} is not NFC; normalise it (models/text.py)")


class FormCatalogue:
    """Every version of every form, looked up by code and the day it must be in effect.

    On a day, the version in effect is the one with the latest ``effective_from`` on or
    before it (and not past its ``effective_to``): a new version needs no edit of the old.
    """

    def __init__(self, versions: Iterable[FormVersion]) -> None:
        self._by_code: dict[str, list[FormVersion]] = {}
        for form in versions:
            if self.version(form.code, form.version):
                raise FormFileError(f"form {form.code} version {form.version} is defined twice; give each file its own")
            self._by_code.setdefault(form.code, []).append(form)

    @property
    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def knows(self, code: str) -> bool:
        return code in self._by_code

    def in_effect(self, code: str, day: dt.date) -> FormVersion | None:
        candidates = [form for form in self._by_code.get(code, []) if form.in_effect_on(day)]
        return max(candidates, key=lambda form: form.effective_from, default=None)

    def version(self, code: str, version: str) -> FormVersion | None:
        return next((f for f in self._by_code.get(code, []) if f.version == version), None)

    def codes_in_effect(self, day: dt.date) -> list[str]:
        return [code for code in self.codes if self.in_effect(code, day)]


@cache
def catalogue(directory: Path = FORMS_DIR) -> FormCatalogue:
    return FormCatalogue(load_form(path) for path in sorted(directory.glob("*.json")))
