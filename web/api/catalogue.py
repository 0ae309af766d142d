"""The classification catalogue: the version in effect on a day, every version, and new versions (root admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, request

from models import audit
from models.catalogue import add_version, all_versions, effective_on
from models.errors import NotFound
from models.permissions import Action, require
from web.auth import login_required, principal, require_root_admin
from web.record_schemas import CatalogueBody
from web.records import date_arg, json_response
from web.services import db

bp = Blueprint("catalogue", __name__, url_prefix="/api/v1/catalogue")


@bp.get("")
@login_required
def show() -> dict[str, Any]:
    """The version in effect on ``?on=DATE`` (default today)."""
    require(principal(), Action.READ_CATALOGUE)
    day = date_arg("on") or dt.datetime.now(dt.UTC).date()
    version = effective_on(db(), day)
    if version is None:
        raise NotFound(f"no catalogue version is in effect on {day.isoformat()}; see /api/v1/catalogue/versions")
    return version.as_json()


@bp.get("/versions")
@login_required
def versions() -> dict[str, Any]:
    require(principal(), Action.READ_CATALOGUE)
    items = [
        {"version": v.version, "effective_from": v.effective_from.isoformat(), "shipped": v.shipped}
        for v in all_versions(db())
    ]
    return {"items": items}


@bp.post("")
@login_required
def create() -> Response:
    """A new version, in effect from ``effective_from``; records keep the version they were classified under."""
    who = require_root_admin("change the classification catalogue")
    body = CatalogueBody.model_validate(request.get_json())
    version = add_version(db(), body.model_dump(mode="json"), who.account_id)
    audit.record(
        db(), who=who, action="catalogue.create", subject_kind="catalogue", subject_id=version.version,
        unit_id=who.unit_id, details={"effective_from": version.effective_from.isoformat()},
    )  # fmt: skip
    db().commit()
    return json_response(version.as_json(), 201, f"/api/v1/catalogue?on={version.effective_from.isoformat()}")
