"""Reception sessions held by the head or a delegate (01/TCD cols 12 and 21), even when nobody came."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request

from models import audit
from models.drafts import delete_draft
from models.permissions import Action
from models.record_changes import as_dict, change_record, check_open, check_session
from models.records import SESSION_KINDS, ReceptionSession
from models.units import Unit, subtree_clause
from web.auth import login_required, principal
from web.record_schemas import ReceptionSessionBody, ReceptionSessionChange
from web.records import (
    choice_arg,
    json_response,
    limit_arg,
    list_filters,
    record_json,
    require_draft_deletion,
    unit_codes,
    visible,
    writable_unit,
)
from web.services import db

bp = Blueprint("reception_sessions", __name__, url_prefix="/api/v1/reception-sessions")


@bp.post("")
@login_required
def create() -> Response:
    body = ReceptionSessionBody.model_validate(request.get_json())
    unit = writable_unit(body.unit)
    who = principal()
    held = ReceptionSession(unit_id=unit.id, created_by=who.account_id, **body.model_dump(exclude={"unit"}))
    check_session(db(), held)
    check_open(unit, held.held_on)
    db().add(held)
    db().flush()
    audit.record(
        db(), who=who, action="reception_session.create", subject_kind="reception_session", subject_id=held.id,
        unit_id=unit.id, details={"after": as_dict(held)},
    )  # fmt: skip
    db().commit()
    return json_response(record_json(held, unit.code), 201, f"/api/v1/reception-sessions/{held.id}")


@bp.get("/<int:session_id>")
@login_required
def show(session_id: int) -> dict[str, Any]:
    held, unit = visible(ReceptionSession, session_id)
    return record_json(held, unit.code)


@bp.get("")
@login_required
def index() -> dict[str, Any]:
    """Sessions of the subtree (``unit``, ``from``, ``to``, ``kind``, ``status``), newest first."""
    f = list_filters()
    stmt = (
        sa.select(ReceptionSession).join(Unit, Unit.id == ReceptionSession.unit_id).where(subtree_clause(f.unit_path))
    )
    kind = choice_arg("kind", SESSION_KINDS)
    if f.since is not None:
        stmt = stmt.where(ReceptionSession.held_on >= f.since)
    if f.until is not None:
        stmt = stmt.where(ReceptionSession.held_on <= f.until)
    if f.status is not None:
        stmt = stmt.where(ReceptionSession.status == f.status)
    if kind is not None:
        stmt = stmt.where(ReceptionSession.kind == kind)
    rows = list(
        db().scalars(stmt.order_by(ReceptionSession.held_on.desc(), ReceptionSession.id.desc()).limit(limit_arg()))
    )
    codes = unit_codes({r.unit_id for r in rows})
    return {"items": [record_json(r, codes[r.unit_id]) for r in rows]}


@bp.patch("/<int:session_id>")
@login_required
def change(session_id: int) -> dict[str, Any]:
    """Change a draft session; correct a final one (``reason`` required, audited)."""
    body = ReceptionSessionChange.model_validate(request.get_json())
    held, unit = visible(ReceptionSession, session_id, Action.WRITE_RECORDS)
    change_record(db(), principal(), held, body.model_dump(exclude_unset=True, exclude={"reason"}), body.reason)
    db().commit()
    return record_json(held, unit.code)


@bp.delete("/<int:session_id>")
@login_required
def delete(session_id: int) -> Response:
    """Delete a draft session (admins of a province or above); a final one gets 409."""
    held, unit = visible(ReceptionSession, session_id)
    delete_draft(db(), require_draft_deletion(unit), held)
    db().commit()
    return Response(status=204)
