"""The classification catalogue (content types and fields) as versions with effective dates.

Shipped versions are the files in ``models/catalogue/``; root admins add versions through
the API, stored in ``catalogue_versions``. The version in effect on a day is the one
with the latest ``effective_from`` on or before it. Every record keeps the version it
was classified under, so a later version never reclassifies old records.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import AddedVersion, Base
from models.errors import Conflict, Invalid
from models.text import nfc

CATALOGUE_DIR = Path(__file__).with_name("catalogue")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RECORD_KINDS = ("reception", "petition")
# CONTRACT: the catalogue includes at least these field codes, in every version.
REQUIRED_FIELDS = frozenset({"land", "housing", "policy", "civil_service", "judicial", "corruption", "party", "other"})


class CatalogueVersionRow(AddedVersion, Base):
    """A catalogue version added by a root admin (shipped versions are files, not rows)."""

    __tablename__ = "catalogue_versions"


@dataclass(frozen=True)
class CatalogueVersion:
    version: str
    effective_from: dt.date
    content_types: dict[str, dict[str, Any]]
    fields: dict[str, dict[str, Any]]
    shipped: bool

    def content_types_for(self, kind: str) -> list[str]:
        return [code for code, item in self.content_types.items() if kind in item["applies_to"]]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "shipped": self.shipped,
            "content_types": [{"code": code, **item} for code, item in self.content_types.items()],
            "fields": [{"code": code, **item} for code, item in self.fields.items()],
        }


def _entries(items: list[dict[str, Any]], name: str, *, with_kinds: bool) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items):
        code = item.get("code", "")
        if not CODE.match(code):
            raise Invalid.field(f"{name}.{i}.code", "a lower-case code such as land or civil_service")
        if code in entries:
            raise Invalid.field(f"{name}.{i}.code", f"{code} is given twice; give each code once")
        for label in ("vi", "en"):
            if not str(item.get(label, "")).strip():
                raise Invalid.field(f"{name}.{i}.{label}", "give the label in Vietnamese (vi) and English (en)")
        entry: dict[str, Any] = {"vi": nfc(item["vi"]), "en": item["en"]}
        if with_kinds:
            kinds = item.get("applies_to") or list(RECORD_KINDS)
            if any(kind not in RECORD_KINDS for kind in kinds):
                raise Invalid.field(f"{name}.{i}.applies_to", f"a list of {', '.join(RECORD_KINDS)}")
            entry["applies_to"] = list(kinds)
        entries[code] = entry
    return entries


def parse_version(data: dict[str, Any], *, shipped: bool) -> CatalogueVersion:
    """A version from its JSON form; Invalid naming the field when it is malformed."""
    content_types = _entries(data.get("content_types", []), "content_types", with_kinds=True)
    fields = _entries(data.get("fields", []), "fields", with_kinds=False)
    missing = sorted(REQUIRED_FIELDS - fields.keys())
    if missing:
        raise Invalid.field("fields", f"every version keeps the fields {', '.join(missing)}; add them")
    for kind in RECORD_KINDS:
        if not any(kind in item["applies_to"] for item in content_types.values()):
            raise Invalid.field("content_types", f"no content type applies to {kind}s; add one")
    return CatalogueVersion(
        version=str(data["version"]),
        effective_from=dt.date.fromisoformat(str(data["effective_from"])),
        content_types=content_types,
        fields=fields,
        shipped=shipped,
    )


@cache
def shipped_versions(directory: Path = CATALOGUE_DIR) -> tuple[CatalogueVersion, ...]:
    """The versions shipped with the code, loaded once per process."""
    paths = sorted(directory.glob("*.json"))
    return tuple(parse_version(json.loads(p.read_text(encoding="utf-8")), shipped=True) for p in paths)


def _row_version(row: CatalogueVersionRow) -> CatalogueVersion:
    return parse_version({**row.data, "version": row.version, "effective_from": row.effective_from}, shipped=False)


def all_versions(session: Session) -> list[CatalogueVersion]:
    """Every version, shipped and added, oldest effective date first."""
    rows = session.scalars(sa.select(CatalogueVersionRow)).all()
    versions = [*shipped_versions(), *(_row_version(row) for row in rows)]
    return sorted(versions, key=lambda v: v.effective_from)


def effective_on(session: Session, day: dt.date) -> CatalogueVersion | None:
    """The version in effect on ``day``: the latest effective_from on or before it."""
    row = session.scalar(
        sa.select(CatalogueVersionRow)
        .where(CatalogueVersionRow.effective_from <= day)
        .order_by(CatalogueVersionRow.effective_from.desc())
        .limit(1)
    )
    candidates = [v for v in shipped_versions() if v.effective_from <= day]
    if row is not None:
        candidates.append(_row_version(row))
    return max(candidates, key=lambda v: v.effective_from, default=None)


def classify(session: Session, *, kind: str, day: dt.date, content_type: str, field: str) -> str:
    """The catalogue version that classifies a record of ``day``; Invalid naming the bad code."""
    version = effective_on(session, day)
    if version is None:
        raise Invalid.field("received_on", f"no classification catalogue is in effect on {day.isoformat()}")
    types = version.content_types_for(kind)
    if content_type not in types:
        allowed = ", ".join(types)
        message = f"{content_type!r} is not a {kind} content type of {version.version}: {allowed}"
        raise Invalid.field("content_type", message)
    if field not in version.fields:
        raise Invalid.field(
            "field", f"{field!r} is not a field of catalogue {version.version}: {', '.join(version.fields)}"
        )
    return version.version


def add_version(session: Session, data: dict[str, Any], account_id: int) -> CatalogueVersion:
    """Validate and store a new version (the caller commits); Conflict on a taken name or date."""
    version = parse_version(data, shipped=False)
    for other in all_versions(session):
        if other.version == version.version:
            raise Conflict(f"catalogue version {version.version} exists already; choose a new name")
        if other.effective_from == version.effective_from:
            day = other.effective_from.isoformat()
            raise Conflict(f"version {other.version} takes effect on {day} already; choose another date")
    payload = {k: v for k, v in version.as_json().items() if k not in ("version", "effective_from", "shipped")}
    session.add(
        CatalogueVersionRow(
            version=version.version, effective_from=version.effective_from, data=payload, created_by=account_id
        )
    )
    return version
