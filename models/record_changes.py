"""Creating and changing receptions and petitions, with their rules and their audit trail.

A draft changes freely (audited as ``<kind>.update``); a final record is corrected only
with a reason (``<kind>.correct``, before and after in the details) and never goes back
to draft. Every change re-checks the classification against the catalogue in effect on
the record's date and stores that catalogue's version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import attachments, audit
from models.auth import Principal
from models.cases import case_visible, resolve_case
from models.catalogue import classify
from models.errors import Conflict, Invalid
from models.records import CROWD_MINIMUM, Petition, Reception, ReceptionSession, Status
from models.text import fold, nfc
from models.units import Unit

Record = Reception | Petition | ReceptionSession
ID_NUMBER_MAX = 20  # the column's width; a CCCD has 12 digits, a passport 8-9 characters

RECEPTION_FIELDS = (
    "received_on", "kind", "people", "crowd_group", "case_id", "session_id",
    "content_type", "field", "status", "note",
)  # fmt: skip
PETITION_FIELDS = (
    "received_on", "source", "reception_id", "signatories", "anonymous", "petitioner_name",
    "petitioner_id_number", "petitioner_address", "content_type", "field", "summary", "case_id",
    "eligible", "within_competence", "attachment_ids", "status", "note",
)  # fmt: skip


SESSION_FIELDS = ("held_on", "kind", "host", "note", "status")
FIELDS = {"reception": RECEPTION_FIELDS, "petition": PETITION_FIELDS, "reception_session": SESSION_FIELDS}


def kind_of(record: Record) -> str:
    if isinstance(record, ReceptionSession):
        return "reception_session"
    return "reception" if isinstance(record, Reception) else "petition"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def as_dict(record: Any) -> dict[str, Any]:
    """Every column of a row, JSON-ready (dates in ISO 8601)."""
    return {c.key: _jsonable(getattr(record, c.key)) for c in record.__table__.columns}


# --- rules ---------------------------------------------------------------------------


def _check_reception(session: Session, who: Principal, rec: Reception) -> None:
    rec.note = nfc(rec.note)
    if rec.crowd_group and rec.people < CROWD_MINIMUM:
        raise Invalid.field(
            "crowd_group", f"a crowd group has {CROWD_MINIMUM} or more people; give the head-count in people"
        )
    rec.catalogue_version = classify(
        session, kind="reception", day=rec.received_on, content_type=rec.content_type, field=rec.field
    )
    if rec.session_id is not None:
        held = session.get(ReceptionSession, rec.session_id)
        if held is None or held.unit_id != rec.unit_id:
            raise Invalid.field("session_id", f"no reception session {rec.session_id} of this unit")
        if held.kind != rec.kind:
            raise Invalid.field(
                "session_id", f"session {held.id} is a {held.kind} session; the reception is {rec.kind}"
            )


def check_session(session: Session, held: ReceptionSession) -> None:
    """A session's rules (NFC text; receptions held in it are of its kind), for create and change."""
    held.host, held.note = nfc(held.host) or "", nfc(held.note)
    if held.id is None:  # a new session: no reception is held in it yet
        return
    other = session.scalar(
        sa.select(Reception.id).where(Reception.session_id == held.id, Reception.kind != held.kind).limit(1)
    )
    if other is not None:
        raise Invalid.field(
            "kind", f"reception {other} of this session is not a {held.kind} reception; change it first"
        )


def _check_petition(session: Session, who: Principal, pet: Petition, multi_signatory: bool | None) -> None:
    pet.petitioner_name = nfc((pet.petitioner_name or "").strip()) or None
    pet.petitioner_address = nfc((pet.petitioner_address or "").strip()) or None
    pet.petitioner_id_number = "".join((pet.petitioner_id_number or "").split()).upper() or None
    if pet.petitioner_id_number and len(pet.petitioner_id_number) > ID_NUMBER_MAX:
        raise Invalid.field("petitioner_id_number", f"at most {ID_NUMBER_MAX} letters and digits (CCCD: 12 digits)")
    pet.summary = nfc(pet.summary or "") or ""
    pet.note = nfc(pet.note)
    pet.petitioner_name_folded = fold(pet.petitioner_name)
    pet.petitioner_address_folded = fold(pet.petitioner_address)
    if not pet.anonymous and not pet.petitioner_name:
        raise Invalid.field("petitioner_name", "give the petitioner's name, or set anonymous to true")
    pet.multi_signatory = pet.signatories >= CROWD_MINIMUM
    if multi_signatory is not None and multi_signatory != pet.multi_signatory:
        raise Invalid.field(
            "multi_signatory", f"multi-signatory means {CROWD_MINIMUM} or more signatories; it follows signatories"
        )
    pet.catalogue_version = classify(
        session, kind="petition", day=pet.received_on, content_type=pet.content_type, field=pet.field
    )
    if pet.reception_id is not None:
        rec = session.get(Reception, pet.reception_id)
        unit = session.get(Unit, rec.unit_id) if rec is not None else None
        if unit is None or not who.covers(unit.path):
            raise Invalid.field("reception_id", f"no reception {pet.reception_id} in your unit's subtree")


def _day_of(record: Record) -> dt.date:
    return record.held_on if isinstance(record, ReceptionSession) else record.received_on


def check_open(unit: Unit, day: dt.date) -> None:
    """A record belongs to a unit that existed on its day (the tree as it stood then)."""
    if not unit.open_between(day, day):
        opened = unit.opened_on.isoformat() if unit.opened_on else "the start"
        closed = unit.closed_on.isoformat() if unit.closed_on else "today"
        raise Invalid.field(
            "received_on",
            f"unit {unit.code} existed from {opened} to {closed}, not on {day.isoformat()}; "
            "record it at the unit that took over",
        )


# --- create ----------------------------------------------------------------------------


def create_reception(session: Session, who: Principal, unit: Unit, data: dict[str, Any]) -> Reception:
    """A new reception of ``unit`` (the caller checked the right to write there); flushed, audited."""
    values = {k: v for k, v in data.items() if k in RECEPTION_FIELDS and k != "case_id"}
    rec = Reception(unit_id=unit.id, created_by=who.account_id, **values)
    _check_reception(session, who, rec)
    check_open(unit, rec.received_on)
    rec.case_id = resolve_case(session, who, data.get("case_id"), unit.id)
    session.add(rec)
    session.flush()
    _audit_create(session, who, rec)
    return rec


def create_petition(session: Session, who: Principal, unit: Unit, data: dict[str, Any]) -> Petition:
    """A new petition of ``unit``; joins its reception's case when no case is given."""
    values = {k: v for k, v in data.items() if k in PETITION_FIELDS and k != "case_id"}
    pet = Petition(unit_id=unit.id, created_by=who.account_id, **values)
    _check_petition(session, who, pet, data.get("multi_signatory"))
    check_open(unit, pet.received_on)
    case_id = data.get("case_id")
    if case_id is None and pet.reception_id is not None:
        case_id = session.get_one(Reception, pet.reception_id).case_id
    pet.case_id = resolve_case(session, who, case_id, unit.id)
    session.add(pet)
    session.flush()
    _link_attachments(session, who, pet)
    _audit_create(session, who, pet)
    return pet


def _link_attachments(session: Session, who: Principal, pet: Petition) -> None:
    # Linking is what lets the accounts above the unit read the files; an id the caller
    # cannot read, or a rejected file, fails the whole change (422 naming it).
    linked = attachments.link(
        session, pet.attachment_ids or [], "petition", str(pet.id), pet.unit_id, who, field="attachment_ids"
    )
    pet.attachment_ids = [str(i) for i in linked]


def _audit_create(session: Session, who: Principal, record: Record) -> None:
    kind = kind_of(record)
    audit.record(
        session,
        who=who,
        action=f"{kind}.create",
        subject_kind=kind,
        subject_id=record.id,
        unit_id=record.unit_id,
        details={"after": as_dict(record)},
    )


# --- change ----------------------------------------------------------------------------


def change_record(
    session: Session, who: Principal, record: Record, changes: dict[str, Any], reason: str | None
) -> dict[str, Any]:
    """Apply ``changes`` to a draft, or correct a final record with a reason; returns the diff."""
    kind = kind_of(record)
    action = _change_action(record, kind, changes, reason)
    allowed = FIELDS[kind]
    multi_signatory = changes.get("multi_signatory")  # checked against signatories, never stored as given
    changes = {k: v for k, v in changes.items() if k in allowed}
    for name, value in changes.items():
        if value is None and not record.__table__.c[name].nullable and name != "case_id":
            raise Invalid.field(name, "cannot be null; leave it out to keep the current value")
    before = as_dict(record)
    if "case_id" in changes:
        changes["case_id"] = _existing_case(session, who, changes["case_id"])
    for name, value in changes.items():
        setattr(record, name, value)
    if isinstance(record, Reception):
        _check_reception(session, who, record)
    elif isinstance(record, Petition):
        _check_petition(session, who, record, multi_signatory)
        if "attachment_ids" in changes:
            _link_attachments(session, who, record)
    else:
        check_session(session, record)
    check_open(session.get_one(Unit, record.unit_id), _day_of(record))
    after = as_dict(record)
    diff = {k: after[k] for k in after if after[k] != before[k] and k != "updated_at"}
    if diff:
        session.flush()
        audit.record(
            session,
            who=who,
            action=action,
            subject_kind=kind,
            subject_id=record.id,
            unit_id=record.unit_id,
            reason=reason,
            details={"before": {k: before[k] for k in diff}, "after": diff},
        )
    return diff


def _change_action(record: Record, kind: str, changes: dict[str, Any], reason: str | None) -> str:
    if record.status == Status.DRAFT:
        return f"{kind}.update"
    if changes.get("status", Status.FINAL) != Status.FINAL:
        raise Conflict(f"{kind} {record.id} is final: it is corrected (with a reason), never returned to draft")
    if not (reason or "").strip():
        raise Invalid.field("reason", f"{kind} {record.id} is final: say why it is corrected; the change is audited")
    return f"{kind}.correct"


def _existing_case(session: Session, who: Principal, case_id: int | None) -> int:
    if case_id is None or not case_visible(session, who, case_id):
        raise Invalid.field("case_id", f"no case {case_id} among your unit's cases; a record always has a case")
    return case_id
