"""The vocabulary a form column uses to say how it is computed from final records.

A form file gives every column one ``compute`` spec (see ``models/forms/README.md``):

- ``{"count": {...}}``: a measure over records: which records (``from``, ``scope``,
  ``stage``), which filter (``where``, and ``case_by`` for distinct cases), what is
  counted (``measure``: rows, distinct cases, or the sum ``of`` a numeric field);
- ``{"sum_of": [4, 13, 22]}``: the sum of other columns (a total a printed identity defines);
- ``{"notes": {"lines": [...]}}``: text, optionally with counted facts.

These models only validate and describe; the SQL compiler translates them for
PostgreSQL. The tables below are the whole vocabulary: a new key is a code change
reviewed with the compiler, while a new criterion built from these keys is a data file.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.handling import AMOUNTS, COUNTS, OUTCOMES

Scalar = bool | int | str | None
Source = Literal["receptions", "reception_sessions", "petitions"]

RECEPTION_KINDS = ("regular", "head", "delegated")
SESSION_KINDS = ("head", "delegated")
CONTENT_TYPES = ("complaint", "denunciation", "recommendation", "dispute")
PETITION_CONTENT_TYPES = (*CONTENT_TYPES, "mixed")
PETITION_SOURCES = ("in_person", "post", "forwarded", "online")
HANDLING_STATES = (
    "received",
    "classified",
    "guided",
    "forwarded",
    "returned",
    "filed_away",
    "accepted",
    "assigned",
    "under_resolution",
    "awaiting_review",
    "resolved",
)
CASE_RESOLUTIONS = ("not_resolved", "being_resolved", "resolved_once", "resolved_several")
CASE_RESULTS = ("unresolved", "resolved_without_decision", "resolved_by_decision", "court_judgment")

# A domain is a tuple of allowed JSON values, or "code" (any catalogue code, e.g. a field).
Domain = tuple[Scalar, ...] | Literal["code"]
BOOL: Domain = (True, False)
OPEN_BOOL: Domain = (True, False, None)  # null: not yet decided by an officer

_CASE_KEYS: dict[str, Domain] = {
    "case_new": BOOL,
    "case_resolution": CASE_RESOLUTIONS,
    "case_result": CASE_RESULTS,
}

FILTER_KEYS: dict[str, dict[str, Domain]] = {
    "receptions": {
        "kind": RECEPTION_KINDS,
        "crowd_group": BOOL,
        "content_type": CONTENT_TYPES,
        "field": "code",
        **_CASE_KEYS,
    },
    "reception_sessions": {"kind": SESSION_KINDS, "attended": BOOL},
    "petitions": {
        "source": PETITION_SOURCES,
        "via_reception": BOOL,
        "multi_signatory": BOOL,
        "anonymous": BOOL,
        "content_type": PETITION_CONTENT_TYPES,
        "field": "code",
        "eligible": OPEN_BOOL,
        "within_competence": OPEN_BOOL,
        "state": HANDLING_STATES,
        "urged": BOOL,
        "reply_received": BOOL,
        "outcome": (*OUTCOMES, None),
        "resolution_round": (1, 2, None),
        "decision": BOOL,
        "court_judgment": BOOL,
        "on_time": OPEN_BOOL,
        **_CASE_KEYS,
    },
}

SUM_FIELDS: dict[str, tuple[str, ...]] = {
    "receptions": ("people",),
    "reception_sessions": (),
    "petitions": ("signatories", *AMOUNTS, *COUNTS),
}
# Sums of money (million VND) and land (m²) are amounts; the other sums are head-counts.
AMOUNT_FIELDS = frozenset(AMOUNTS)

SCOPES: dict[str, tuple[str, ...]] = {
    "receptions": ("in_period",),
    "reception_sessions": ("in_period",),
    "petitions": ("in_period", "carried_over", "to_handle", "completed", "pending_at_end"),
}
Stage = Literal["handling", "resolution"]


class NotIn(BaseModel):
    """``{"not": [...]}``: every value except these."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    not_: Scalar | list[Scalar] = Field(alias="not")


FilterValue = Scalar | list[Scalar] | NotIn


def values_of(value: FilterValue) -> tuple[Scalar, ...]:
    """The values a filter names (the excluded ones for ``{"not": ...}``)."""
    raw = value.not_ if isinstance(value, NotIn) else value
    return tuple(raw) if isinstance(raw, list) else (raw,)


def _same(a: Scalar, b: Scalar) -> bool:
    # JSON true is not the number 1: compare types too.
    return type(a) is type(b) and a == b


def _check_filters(where: dict[str, FilterValue], source: str, what: str) -> None:
    allowed = FILTER_KEYS[source]
    for key, value in where.items():
        if key not in allowed:
            raise ValueError(f"{what}: unknown filter key {key!r} for {source}; allowed: {', '.join(sorted(allowed))}")
        domain = allowed[key]
        if not values_of(value):
            raise ValueError(f"{what}: {key} names no value; an empty list would match nothing (or everything)")
        for item in values_of(value):
            if domain == "code":
                if not (isinstance(item, str) and item.strip()):
                    raise ValueError(f"{what}: {key} takes catalogue codes (text), not {item!r}")
            elif not any(_same(item, d) for d in domain):
                shown = ", ".join(json.dumps(d) for d in domain)
                raise ValueError(f"{what}: {key} = {item!r} is not one of {shown}")


class Count(BaseModel):
    """A measure over final records of the unit's subtree for the period."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: Source = Field(alias="from")
    scope: str = "in_period"
    stage: Stage | None = None
    where: dict[str, FilterValue] = Field(default_factory=dict)
    measure: Literal["rows", "cases", "sum"] = "rows"
    of: str | None = None
    case_by: dict[str, FilterValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> Count:
        source = self.from_
        if self.scope not in SCOPES[source]:
            raise ValueError(f"scope {self.scope!r} is not one of {', '.join(SCOPES[source])} for {source}")
        if self.stage is not None and source != "petitions":
            raise ValueError(f"stage applies to petitions only, not {source}")
        _check_filters(self.where, source, "where")
        _check_filters(self.case_by, source, "case_by")
        self._check_measure()
        return self

    def _check_measure(self) -> None:
        source = self.from_
        if self.case_by and self.measure != "cases":
            raise ValueError("case_by applies only with measure 'cases'")
        if self.measure == "cases" and source == "reception_sessions":
            raise ValueError("reception_sessions belong to no case: measure 'cases' does not apply")
        if (self.measure == "sum") != (self.of is not None):
            raise ValueError("give 'of' (the field to add) exactly when measure is 'sum'")
        if self.of is not None and self.of not in SUM_FIELDS[source]:
            raise ValueError(f"of {self.of!r} is not a numeric field of {source}: {', '.join(SUM_FIELDS[source])}")

    @property
    def is_amount(self) -> bool:
        return self.of in AMOUNT_FIELDS


class NoteLine(BaseModel):
    """A sentence of the notes column with a counted fact, e.g. "{n} kỳ tiếp không có công dân đến"."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    count: Count

    @model_validator(mode="after")
    def _has_placeholder(self) -> NoteLine:
        if "{n}" not in self.text:
            raise ValueError(f"note line {self.text!r} must contain {{n}}, where the count goes")
        return self


class Notes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lines: list[NoteLine] = Field(default_factory=list)


class Compute(BaseModel):
    """Exactly one of ``count``, ``sum_of`` or ``notes``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    count: Count | None = None
    sum_of: Annotated[list[int], Field(min_length=2)] | None = None
    notes: Notes | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in ("count", "sum_of", "notes") if k in data]
            if len(given) != 1:
                raise ValueError(f"give exactly one of count, sum_of, notes (given: {', '.join(given) or 'none'})")
        return data

    @property
    def kind(self) -> str:
        return "count" if self.count else "sum_of" if self.sum_of else "notes"


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    number: int
    label: Annotated[str, Field(min_length=1)]
    meaning: Annotated[str, Field(min_length=1)]
    group: list[str] = Field(default_factory=list)
    kind: Literal["count", "amount", "note"] = "count"
    compute: Compute

    @model_validator(mode="after")
    def _kind_fits_compute(self) -> ColumnSpec:
        if (self.kind == "note") != (self.compute.notes is not None):
            raise ValueError("a note column is computed by 'notes', and 'notes' fills only a note column")
        count = self.compute.count
        if count and count.is_amount and self.kind != "amount":
            raise ValueError(f"a sum of {count.of} is an amount: set kind 'amount'")
        return self


class IdentitySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str
    printed: bool = False
    why: str = ""


class FormSpec(BaseModel):
    """One form file: one version of one form."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1)]
    title: Annotated[str, Field(min_length=1)]
    title_en: str = ""
    circular: Annotated[str, Field(min_length=1)]
    effective_from: dt.date
    effective_to: dt.date | None = None
    crowd_reading: Literal["of_which", "disjoint"] | None = None
    notes: str = ""
    columns: Annotated[list[ColumnSpec], Field(min_length=1)]
    identities: list[IdentitySpec] = Field(default_factory=list)
