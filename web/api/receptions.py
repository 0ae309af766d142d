"""Citizen receptions (CONTRACT): create, read, list with filters, change drafts, correct finals, delete drafts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from models.cases import first_dates
from models.drafts import delete_draft
from models.permissions import Action
from models.record_changes import change_record, create_reception
from models.record_queries import RecordFilters, page, reception_query
from models.records import RECEPTION_KINDS, Reception
from web.auth import login_required, principal
from web.record_schemas import ReceptionBody, ReceptionChange
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

bp = Blueprint("receptions", __name__, url_prefix="/api/v1/receptions")


@bp.post("")
@login_required
def create() -> Response:
    """201 with the reception's ``id`` and ``case_id`` (a new case when ``case_id`` was null)."""
    body = ReceptionBody.model_validate(request.get_json())
    unit = writable_unit(body.unit)
    rec = create_reception(db(), principal(), unit, body.model_dump(exclude={"unit"}))
    db().commit()
    return json_response(record_json(rec, unit.code), 201, f"/api/v1/receptions/{rec.id}")


@bp.get("/<int:reception_id>")
@login_required
def show(reception_id: int) -> dict[str, Any]:
    rec, unit = visible(Reception, reception_id)
    first_on = first_dates(db(), [rec.case_id]).get(rec.case_id)
    return {**record_json(rec, unit.code), "case_first_on": first_on.isoformat() if first_on else None}


def reception_filters() -> RecordFilters:
    """The list's filters from the query string (extend here for new ones)."""
    filters = list_filters()
    filters.kind = choice_arg("kind", RECEPTION_KINDS)
    return filters


@bp.get("")
@login_required
def index() -> dict[str, Any]:
    """Newest first; ``next`` is the cursor of the following page, null on the last."""
    rows, cursor = page(db(), reception_query(reception_filters()), Reception, limit_arg(), request.args.get("cursor"))
    codes = unit_codes({r.unit_id for r in rows})
    return {"items": [record_json(r, codes[r.unit_id]) for r in rows], "next": cursor}


@bp.patch("/<int:reception_id>")
@login_required
def change(reception_id: int) -> dict[str, Any]:
    """Change a draft; correct a final reception (``reason`` required, audited)."""
    body = ReceptionChange.model_validate(request.get_json())
    rec, unit = visible(Reception, reception_id, Action.WRITE_RECORDS)
    change_record(db(), principal(), rec, body.model_dump(exclude_unset=True, exclude={"reason"}), body.reason)
    db().commit()
    return record_json(rec, unit.code)


@bp.delete("/<int:reception_id>")
@login_required
def delete(reception_id: int) -> Response:
    """Delete a draft (admins of a province or above); a final reception gets 409."""
    rec, unit = visible(Reception, reception_id)
    delete_draft(db(), require_draft_deletion(unit), rec)
    db().commit()
    return Response(status=204)
