"""Petitions: create (with likely duplicates), read, list, change drafts, correct finals, delete drafts,
and an officer's confirmation that one petition duplicates another."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from models.cases import first_dates
from models.drafts import delete_draft
from models.duplicates import mark_duplicate, suggestions
from models.permissions import Action
from models.record_changes import change_record, create_petition
from models.record_queries import RecordFilters, page, petition_query
from models.records import PETITION_SOURCES, Petition
from models.workflow import follow_correction
from models.workflow import start as start_handling
from web.api import workflow
from web.auth import login_required, principal
from web.record_schemas import DuplicateOfBody, PetitionBody, PetitionChange
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

bp = Blueprint("petitions", __name__, url_prefix="/api/v1/petitions")


@bp.post("")
@login_required
def create() -> Response:
    """201 with the petition, its ``case_id`` and ``possible_duplicates`` in the caller's subtree."""
    body = PetitionBody.model_validate(request.get_json())
    unit = writable_unit(body.unit)
    who = principal()
    pet = create_petition(db(), who, unit, body.model_dump(exclude={"unit"}))
    if pet.status == "final":  # its first state, received, with its deadline (drafts: when final)
        start_handling(db(), pet, who=who)
    duplicates = suggestions(db(), pet, who.unit_path)
    db().commit()
    result = {**record_json(pet, unit.code), "possible_duplicates": duplicates}
    return json_response(result, 201, f"/api/v1/petitions/{pet.id}")


@bp.get("/<int:petition_id>")
@login_required
def show(petition_id: int) -> dict[str, Any]:
    pet, unit = visible(Petition, petition_id)
    first_on = first_dates(db(), [pet.case_id]).get(pet.case_id)
    return {**record_json(pet, unit.code), "case_first_on": first_on.isoformat() if first_on else None}


def petition_filters() -> RecordFilters:
    """The list's filters from the query string; add conditions to ``filters.extra`` for new ones."""
    filters = list_filters()
    filters.source = choice_arg("source", PETITION_SOURCES)
    filters.extra.extend(workflow.flag_filters())  # ?overdue=true, ?stuck=true
    return filters


@bp.get("")
@login_required
def index() -> dict[str, Any]:
    """Newest first; ``next`` is the cursor of the following page, null on the last."""
    rows, cursor = page(db(), petition_query(petition_filters()), Petition, limit_arg(), request.args.get("cursor"))
    codes = unit_codes({r.unit_id for r in rows})
    return {"items": [record_json(r, codes[r.unit_id]) for r in rows], "next": cursor}


@bp.patch("/<int:petition_id>")
@login_required
def change(petition_id: int) -> dict[str, Any]:
    """Change a draft; correct a final petition (``reason`` required, audited)."""
    body = PetitionChange.model_validate(request.get_json())
    pet, unit = visible(Petition, petition_id, Action.WRITE_RECORDS)
    diff = change_record(db(), principal(), pet, body.model_dump(exclude_unset=True, exclude={"reason"}), body.reason)
    if pet.status == "final":  # a draft made final enters the handling (no-op when it has already)
        start_handling(db(), pet, who=principal())
        if diff.keys() & {"received_on", "content_type"}:  # a running deadline counted from them moves too
            follow_correction(db(), principal(), pet)
    db().commit()
    return record_json(pet, unit.code)


@bp.delete("/<int:petition_id>")
@login_required
def delete(petition_id: int) -> Response:
    """Delete a draft (admins of a province or above); a final petition gets 409."""
    pet, unit = visible(Petition, petition_id)
    delete_draft(db(), require_draft_deletion(unit), pet)
    db().commit()
    return Response(status=204)


@bp.get("/<int:petition_id>/duplicates")
@login_required
def duplicates(petition_id: int) -> dict[str, Any]:
    """Likely duplicates of the petition inside the caller's subtree, best first."""
    pet, _ = visible(Petition, petition_id)
    return {"id": pet.id, "possible_duplicates": suggestions(db(), pet, principal().unit_path)}


@bp.post("/<int:petition_id>/duplicate-of")
@login_required
def duplicate_of(petition_id: int) -> dict[str, Any]:
    """An officer confirms ``{"of": id}`` (or withdraws with null); audited, never automatic."""
    body = DuplicateOfBody.model_validate(request.get_json())
    pet, unit = visible(Petition, petition_id, Action.WRITE_RECORDS)
    mark_duplicate(db(), principal(), pet, body.of)
    db().commit()
    return record_json(pet, unit.code)
