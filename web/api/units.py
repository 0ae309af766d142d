"""The unit tree, one unit at a time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint

from models.errors import NotFound
from models.units import Unit
from web.auth import login_required
from web.services import db

bp = Blueprint("units", __name__, url_prefix="/api/v1/units")


def get_unit(code: str) -> Unit:
    unit = db().scalar(sa.select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"no unit {code!r}; check the code")
    return unit


@bp.get("/<code>")
@login_required
def show(code: str) -> dict[str, Any]:
    unit = get_unit(code)
    children = db().scalars(sa.select(Unit.code).where(Unit.parent_id == unit.id).order_by(Unit.code)).all()
    ancestors = unit.ancestor_codes
    return {
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent": ancestors[-1] if ancestors else None,
        "ancestors": ancestors,
        "children": list(children),
        "opened_on": unit.opened_on.isoformat() if unit.opened_on else None,
        "closed_on": unit.closed_on.isoformat() if unit.closed_on else None,
    }
