"""Likely duplicate petitions, suggested to an officer who decides; never merged automatically.

A petition is a likely duplicate of another in the caller's subtree when both carry the
same petitioner ID number, or when the petitioner's folded name and folded address are
equal (diacritics, đ, case and spaces folded) and the summaries are similar by trigram
similarity (PostgreSQL ``pg_trgm``) at or above ``SUMMARY_SIMILARITY``.
"""

from __future__ import annotations

import difflib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import audit
from models.auth import Principal
from models.errors import Forbidden, Invalid
from models.records import Petition
from models.units import Unit, subtree_clause

# pg_trgm's own default threshold for `%`; short Vietnamese summaries of the same
# matter, retyped by another officer, measured 0.35-0.8 in the tests' examples.
SUMMARY_SIMILARITY = 0.3
MAX_SUGGESTIONS = 20
SAME_ID_NUMBER = "same petitioner ID number"
SAME_NAME_ADDRESS = "same petitioner name and address, similar summary"


def _candidates(within_path: str, pet: Petition) -> sa.Select[Petition, str]:
    return (
        sa.select(Petition, Unit.code)
        .join(Unit, Unit.id == Petition.unit_id)
        .where(subtree_clause(within_path), Petition.id != pet.id)
    )


def _by_id_number(session: Session, within_path: str, pet: Petition) -> list[tuple[Petition, str, float]]:
    if not pet.petitioner_id_number:
        return []
    stmt = _candidates(within_path, pet).where(Petition.petitioner_id_number == pet.petitioner_id_number)
    return [(row, code, 1.0) for row, code in session.execute(stmt.limit(MAX_SUGGESTIONS))]


def _by_name_address(session: Session, within_path: str, pet: Petition) -> list[tuple[Petition, str, float]]:
    if not pet.petitioner_name_folded:
        return []
    stmt = _candidates(within_path, pet).where(
        Petition.petitioner_name_folded == pet.petitioner_name_folded,
        Petition.petitioner_address_folded == pet.petitioner_address_folded,
    )
    if session.get_bind().dialect.name != "postgresql":
        # The embedded SQLite has no pg_trgm: the same rule with Python's sequence ratio.
        rows = session.execute(stmt.limit(10 * MAX_SUGGESTIONS))
        scored = [(row, code, difflib.SequenceMatcher(None, row.summary, pet.summary).ratio()) for row, code in rows]
        return [item for item in scored if item[2] >= SUMMARY_SIMILARITY][:MAX_SUGGESTIONS]
    score = sa.func.similarity(Petition.summary, pet.summary)
    ranked = stmt.add_columns(score).where(score >= SUMMARY_SIMILARITY).order_by(score.desc())
    return [(row, code, float(s)) for row, code, s in session.execute(ranked.limit(MAX_SUGGESTIONS))]


def suggestions(session: Session, pet: Petition, within_path: str) -> list[dict[str, Any]]:
    """Likely duplicates of ``pet`` inside the subtree at ``within_path``, best first."""
    found: dict[int, dict[str, Any]] = {}
    for reason, matches in (
        (SAME_ID_NUMBER, _by_id_number(session, within_path, pet)),
        (SAME_NAME_ADDRESS, _by_name_address(session, within_path, pet)),
    ):
        for row, code, score in matches:
            entry = found.setdefault(row.id, _suggestion(row, code))
            entry["reasons"].append(reason)
            entry["score"] = max(entry["score"], round(score, 3))
    return sorted(found.values(), key=lambda e: (-e["score"], -e["id"]))[:MAX_SUGGESTIONS]


def _suggestion(row: Petition, unit_code: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "unit": unit_code,
        "received_on": row.received_on.isoformat(),
        "petitioner_name": row.petitioner_name,
        "case_id": row.case_id,
        "status": row.status,
        "duplicate_of": row.duplicate_of,
        "score": 0.0,
        "reasons": [],
    }


def mark_duplicate(session: Session, who: Principal, pet: Petition, of_id: int | None) -> None:
    """An officer's decision that ``pet`` duplicates petition ``of_id`` (None withdraws it); audited."""
    if of_id is not None:
        _check_target(session, who, pet, of_id)
    before = pet.duplicate_of
    pet.duplicate_of = of_id
    audit.record(
        session,
        who=who,
        action="petition.duplicate_of",
        subject_kind="petition",
        subject_id=pet.id,
        unit_id=pet.unit_id,
        details={"before": before, "after": of_id},
    )


def _check_target(session: Session, who: Principal, pet: Petition, of_id: int) -> None:
    if of_id == pet.id:
        raise Invalid.field("of", "a petition is not a duplicate of itself; give another petition's id")
    target = session.get(Petition, of_id)
    if target is None:
        raise Invalid.field("of", f"no petition {of_id}")
    unit = session.get_one(Unit, target.unit_id)
    if not who.covers(unit.path):
        raise Forbidden(f"petition {of_id} belongs to unit {unit.code}, outside your unit {who.unit_code}")
    seen = {pet.id}
    while target.duplicate_of is not None:
        if target.duplicate_of in seen:
            raise Invalid.field(
                "of", f"petition {of_id} is already (through duplicate_of) a duplicate of petition {pet.id}"
            )
        seen.add(target.id)
        target = session.get_one(Petition, target.duplicate_of)
