"""A reference evaluator of the form vocabulary over in-memory records (the oracle of the SQL).

``compute(form, records)`` reads the ``count`` specs with the semantics
``models/forms/README.md`` states, over abstract records whose scopes and derived
attributes are already known; ``tests/test_forms_identities.py`` checks the identities
with it and ``tests/test_form_sql_property.py`` compares the SQL figures with it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models.form_compute import (
    AMOUNT_FIELDS,
    FILTER_KEYS,
    SUM_FIELDS,
    Compute,
    Count,
    FilterValue,
    NotIn,
    values_of,
)
from models.forms import FORMS_DIR, Column, FormVersion

FILES = sorted(FORMS_DIR.glob("*.json"))
FIELDS = ("land", "housing", "policy", "civil_service", "judicial", "corruption", "party", "other")
CASE_LEVEL = ("case_new", "case_result")
# Each petition's place in a stage: (scopes it belongs to).
STAGE_PLACES = (
    frozenset(),  # received long ago and already through this stage, or never entered it
    frozenset({"carried_over", "to_handle", "completed"}),
    frozenset({"carried_over", "to_handle", "pending_at_end"}),
    frozenset({"in_period", "to_handle", "completed"}),
    frozenset({"in_period", "to_handle", "pending_at_end"}),
)


@dataclass
class Record:
    source: str
    id: int
    case: int | None
    rank: int  # date order: the case's representative is the lowest (rank, id)
    scopes: Mapping[str, frozenset[str]]  # "handling" / "resolution" / "in_period" -> scopes
    attrs: dict[str, Any] = field(default_factory=dict)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def matches(value: Any, wanted: FilterValue) -> bool:
    hit = any(_same(value, v) for v in values_of(wanted))
    return not hit if isinstance(wanted, NotIn) else hit


def selected(records: Iterable[Record], spec: Count) -> list[Record]:
    stage = spec.stage or "handling" if spec.from_ == "petitions" else "in_period"
    return [
        r
        for r in records
        if r.source == spec.from_
        and spec.scope in r.scopes[stage]
        and all(matches(r.attrs.get(k), v) for k, v in spec.where.items())
    ]


def measure(records: Iterable[Record], spec: Count) -> Decimal:
    rows = selected(records, spec)
    if spec.measure == "rows":
        return Decimal(len(rows))
    if spec.measure == "sum":
        return sum((Decimal(r.attrs.get(spec.of or "", 0)) for r in rows), Decimal(0))  # null adds nothing
    if not spec.case_by:
        return Decimal(len({r.case for r in rows}))
    first: dict[int | None, Record] = {}
    for r in sorted(rows, key=lambda r: (r.rank, r.id)):
        first.setdefault(r.case, r)
    return Decimal(sum(all(matches(r.attrs.get(k), v) for k, v in spec.case_by.items()) for r in first.values()))


def compute(form: FormVersion, records: list[Record]) -> dict[int, Decimal]:
    figures: dict[int, Decimal] = {}

    def of(column: Column) -> Decimal:
        if column.number not in figures:
            c: Compute = column.compute
            if c.count:
                figures[column.number] = measure(records, c.count)
            else:
                figures[column.number] = sum((of(form.columns[p - 1]) for p in c.sum_of or ()), Decimal(0))
        return figures[column.number]

    for column in form.columns:
        if column.numeric:
            of(column)
    return figures


def _pick(rng: random.Random, domain: Any) -> Any:
    return rng.choice(FIELDS) if domain == "code" else rng.choice(domain)


def random_records(rng: random.Random, size: int) -> list[Record]:
    cases = {c: {k: _pick(rng, FILTER_KEYS["receptions"][k]) for k in CASE_LEVEL} for c in range(max(1, size // 3))}
    records = []
    for i in range(size):
        source = rng.choice(("receptions", "receptions", "reception_sessions", "petitions", "petitions", "petitions"))
        case = rng.choice(list(cases)) if source != "reception_sessions" else None
        attrs = {k: _pick(rng, d) for k, d in FILTER_KEYS[source].items() if k not in CASE_LEVEL}
        if case is not None:
            attrs.update(cases[case])
        for name in SUM_FIELDS[source]:
            attrs[name] = rng.randint(0, 40) if name not in AMOUNT_FIELDS else Decimal(rng.randint(0, 9999)) / 10
        if source == "receptions":
            attrs["people"] = rng.randint(5, 30) if attrs["crowd_group"] else rng.randint(1, 4)
        in_period = frozenset({"in_period"}) if rng.random() < 0.8 else frozenset()
        scopes = {"in_period": in_period, "handling": rng.choice(STAGE_PLACES), "resolution": rng.choice(STAGE_PLACES)}
        records.append(Record(source, i, case, rng.randint(0, 20), scopes, attrs))
    return records


# --- concrete records in PostgreSQL, for the SQL compiler's tests ---------------------


class Store:
    """Inserts units and final/draft records straight into the tables (no API: figures only)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.units: dict[str, Any] = {}

    def unit(self, code: str, parent: str | None = None, *, opened: Any = None, closed: Any = None) -> Any:
        from models.units import Unit, child_path

        above = self.units[parent] if parent else None
        unit = Unit(
            code=code,
            name=f"Đơn vị {code}",
            level="unit",
            parent_id=above.id if above else None,
            path=child_path(above.path if above else None, code),
            opened_on=opened,
            closed_on=closed,
        )
        self.session.add(unit)
        self.session.flush()
        self.units[code] = unit
        return unit

    def case(self, unit: str) -> int:
        from models.records import Case

        case = Case(unit_id=self.units[unit].id)
        self.session.add(case)
        self.session.flush()
        return int(case.id)

    def reception_session(self, unit: str, day: Any, kind: str = "head", status: str = "final") -> int:
        from models.records import ReceptionSession

        row = ReceptionSession(unit_id=self.units[unit].id, held_on=day, kind=kind, host="Chủ tịch", status=status)
        self.session.add(row)
        self.session.flush()
        return int(row.id)

    def reception(self, unit: str, day: Any, case: int | None = None, **attrs: Any) -> int:
        from models.records import Reception

        values: dict[str, Any] = {
            "kind": "regular",
            "people": 1,
            "content_type": "complaint",
            "field": "land",
            "status": "final",
            **attrs,
        }
        values.setdefault("crowd_group", values["people"] >= 5)
        row = Reception(
            unit_id=self.units[unit].id,
            received_on=day,
            case_id=case if case is not None else self.case(unit),
            catalogue_version="2021.1",
            **values,
        )
        self.session.add(row)
        self.session.flush()
        return int(row.id)

    def petition(
        self,
        unit: str,
        day: Any,
        case: int | None = None,
        *,
        events: Iterable[tuple[Any, str, str]] = (),
        handling: Mapping[str, Any] | None = None,
        **attrs: Any,
    ) -> int:
        """A petition with its history: ``events`` are (effective_on, action, to_state) after its receipt."""
        from models.handling import PetitionEvent, PetitionHandling
        from models.records import Petition

        values: dict[str, Any] = {
            "source": "post",
            "signatories": 1,
            "content_type": "complaint",
            "field": "land",
            "status": "final",
            **attrs,
        }
        values.setdefault("multi_signatory", values["signatories"] >= 5)
        row = Petition(
            unit_id=self.units[unit].id,
            received_on=day,
            case_id=case if case is not None else self.case(unit),
            catalogue_version="2021.1",
            **values,
        )
        self.session.add(row)
        self.session.flush()
        if values["status"] != "final":
            return int(row.id)
        state = "received"
        history = [PetitionEvent(petition_id=row.id, effective_on=day, action="receive", to_state=state)]
        for on, action, to_state in events:
            history.append(
                PetitionEvent(petition_id=row.id, effective_on=on, action=action, from_state=state, to_state=to_state)
            )
            state = to_state
        self.session.add_all(history)
        copies = _history_copies(events)  # as the workflow keeps them (migration 0005)
        values = {**copies, **(handling or {})}
        self.session.add(PetitionHandling(petition_id=row.id, state=state, stage_started_on=day, **values))
        self.session.flush()
        return int(row.id)


def _history_copies(events: Iterable[tuple[Any, str, str]]) -> dict[str, Any]:
    """petition_handling's write-once copies of the history: handled, accepted, resolved days."""
    copies: dict[str, Any] = {}
    for on, _, to_state in events:
        if to_state not in ("received", "classified"):
            copies.setdefault("handled_on", on)
            copies.setdefault("handled_as", to_state)
        if to_state == "accepted":
            copies.setdefault("accepted_on", on)
        if to_state == "resolved":
            copies.setdefault("resolved_on", on)
    return copies
