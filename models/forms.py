"""Statistical forms as versioned data files, and the identity rules a report must satisfy.

Each file in ``models/forms/`` is one version of one form (its circular and effective
dates, columns with their Vietnamese labels, identities). Adding a criterion or a new
circular's layout is adding a file, not changing code.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

FORMS_DIR = Path(__file__).with_name("forms")
_TERM = re.compile(r"^(?:(\d+)\s*\*\s*)?(\d+)$")
_COMPARATORS = ("<=", ">=", "=")


@dataclass(frozen=True)
class Column:
    number: int
    label: str
    group: tuple[str, ...]
    kind: str  # "count", "amount" or "note"

    @property
    def numeric(self) -> bool:
        return self.kind != "note"


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
    comparator = next(c for c in _COMPARATORS if c in text)
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


def load_form(path: Path) -> FormVersion:
    data = json.loads(path.read_text(encoding="utf-8"))
    columns = tuple(
        Column(number=c["number"], label=c["label"], group=tuple(c.get("group", ())), kind=c.get("kind", "count"))
        for c in data["columns"]
    )
    if [c.number for c in columns] != list(range(1, len(columns) + 1)):
        raise ValueError(f"{path.name}: columns must be numbered 1..N in order")
    identities = tuple(parse_identity(i["rule"], i.get("printed", False)) for i in data["identities"])
    for identity in identities:
        for side in identity.sides:
            for _, col in side.terms:
                if not 1 <= col <= len(columns) or not columns[col - 1].numeric:
                    raise ValueError(f"{path.name}: identity {identity.text!r} names column {col}, not a figure")
    return FormVersion(
        code=data["code"],
        version=data["version"],
        title=data["title"],
        circular=data["circular"],
        effective_from=dt.date.fromisoformat(data["effective_from"]),
        effective_to=dt.date.fromisoformat(data["effective_to"]) if data.get("effective_to") else None,
        columns=columns,
        identities=identities,
    )


class FormCatalogue:
    """Every version of every form, looked up by code and the day it must be in effect."""

    def __init__(self, versions: Iterable[FormVersion]) -> None:
        self._by_code: dict[str, list[FormVersion]] = {}
        for form in versions:
            self._by_code.setdefault(form.code, []).append(form)

    @property
    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def knows(self, code: str) -> bool:
        return code in self._by_code

    def in_effect(self, code: str, day: dt.date) -> FormVersion | None:
        for form in self._by_code.get(code, []):
            if form.in_effect_on(day):
                return form
        return None

    def version(self, code: str, version: str) -> FormVersion | None:
        return next((f for f in self._by_code.get(code, []) if f.version == version), None)

    def codes_in_effect(self, day: dt.date) -> list[str]:
        return [code for code in self.codes if self.in_effect(code, day)]


@cache
def catalogue(directory: Path = FORMS_DIR) -> FormCatalogue:
    return FormCatalogue(load_form(path) for path in sorted(directory.glob("*.json")))
