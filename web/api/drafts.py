"""Deleting the drafts of a unit's subtree in a date range, in one request (admins of a province or above)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from models.drafts import delete_drafts
from models.errors import Invalid
from web.auth import login_required
from web.record_schemas import DraftDeletion
from web.records import get_unit_or_invalid, require_draft_deletion
from web.services import db

bp = Blueprint("drafts", __name__, url_prefix="/api/v1/drafts")


@bp.post("/delete")
@login_required
def delete() -> dict[str, Any]:
    """Counts of deleted drafts per kind, and drafts kept (with why); each deletion audited."""
    body = DraftDeletion.model_validate(request.get_json())
    if body.to < body.from_:
        raise Invalid.field("to", f"ends before from ({body.from_.isoformat()})")
    unit = get_unit_or_invalid(body.unit)
    who = require_draft_deletion(unit)
    result = delete_drafts(db(), who, unit, body.from_, body.to, list(body.kinds))
    db().commit()
    return {"unit": unit.code, "from": body.from_.isoformat(), "to": body.to.isoformat(), **result}
